#!/usr/bin/env python3
"""
An independent reference for CLIP image preprocessing (Hugging Face's Python `CLIPImageProcessor`, which uses
Pillow) and the `CLIPVisionModel` forward pass, written from transformers' semantics (image_processing_clip.py,
image_transforms.py, modeling_clip.py) so the TypeScript code can be checked against code it does not share.
Needs only torch, numpy and Pillow (Debian: python3-torch python3-numpy python3-pil); no `transformers`.

What it reproduces:
  * Preprocessing: convert("RGB"); optional pad-to-square with int(mean*255) (the seed's `_expand2square`);
    resize so the shortest edge is `size.shortest_edge` (long edge int(size*long/short)) with Pillow's filter
    `resample`; center crop with floor offsets; rescale by 1/255 (float64, cast to float32); (x - mean) / std in
    float32; HWC -> CHW.
  * CLIPVisionEmbeddings: Conv2d(3, D, p, stride p, bias=False) -> flatten(2).transpose(1, 2); CLS token
    prepended; + position_embedding(arange(patches + 1)).
  * pre_layrnorm; CLIPEncoderLayer x L: x + out_proj(attn(layer_norm1(x))) with q scaled by head_dim**-0.5
    before q @ k^T, softmax, no mask; x + fc2(act(fc1(layer_norm2(x)))); act from hidden_act (quick_gelu:
    x * sigmoid(1.702 x); gelu: exact erf).
  * hidden_states = (encoder input after pre_layrnorm, each layer's output); last_hidden_state = the last one;
    pooler_output = post_layernorm(last_hidden_state[:, 0]).
  * Weight names with a "vision_model." prefix or none.

CLI: python3 clip_vision_ref.py MODEL_DIR OUTPUT.json [--dtype=float64|float32]
  MODEL_DIR: config.json (CLIPVisionConfig), model.safetensors, preprocessor_config.json.
  Writes two generated test images (PNG, base64), the 8-bit crops fed to normalisation, and the model outputs.
"""

import base64
import io
import json
import os
import struct
import sys

import numpy as np
import torch
from PIL import Image

_ST_DTYPES = {"F64": np.float64, "F32": np.float32, "F16": np.float16}


def load_safetensors(path):
    """Parses a .safetensors file: u64 LE header length, JSON header, then the data area."""
    with open(path, "rb") as f:
        buf = f.read()
    (n,) = struct.unpack("<Q", buf[:8])
    header = json.loads(buf[8 : 8 + n].decode("utf-8"))
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        arr = np.frombuffer(buf[base + begin : base + end], dtype=np.dtype(_ST_DTYPES[info["dtype"]]).newbyteorder("<"))
        out[name] = torch.from_numpy(arr.copy().reshape(info["shape"]))
    return out


# ---------------------------------------------------------------------------------------------------------------
# Preprocessing (CLIPImageProcessor with Pillow)


def expand2square(img, background):
    w, h = img.size
    if w == h:
        return img
    s = max(w, h)
    out = Image.new(img.mode, (s, s), background)
    out.paste(img, ((s - w) // 2, (s - h) // 2))
    return out


def clip_crop_u8(img, cfg, pad_to_square):
    """The uint8 HWC image after convert/pad/resize/crop, i.e. just before rescale and normalise."""
    img = img.convert("RGB")
    if pad_to_square:
        img = expand2square(img, tuple(int(x * 255) for x in cfg["image_mean"]))
    size = cfg["size"]
    se = size["shortest_edge"] if isinstance(size, dict) else size
    w, h = img.size
    short, long = (w, h) if w <= h else (h, w)
    new_short, new_long = se, int(se * long / short)
    new_w, new_h = (new_short, new_long) if w <= h else (new_long, new_short)
    img = img.resize((new_w, new_h), resample=cfg.get("resample", 3), reducing_gap=None)
    crop = cfg["crop_size"]
    ch, cw = (crop["height"], crop["width"]) if isinstance(crop, dict) else (crop, crop)
    a = np.asarray(img)
    top, left = (a.shape[0] - ch) // 2, (a.shape[1] - cw) // 2
    assert top >= 0 and left >= 0, "crop larger than the resized image is not exercised here"
    return np.ascontiguousarray(a[top : top + ch, left : left + cw])


def normalise(crop_u8, cfg):
    x = (crop_u8.astype(np.float64) * (1 / 255)).astype(np.float32)
    mean = np.array(cfg["image_mean"], dtype=np.float32)
    std = np.array(cfg["image_std"], dtype=np.float32)
    return ((x - mean) / std).transpose(2, 0, 1)


def test_images():
    """Two deterministic RGB images: a wide one (resize + crop) and a tall one (used with pad-to-square)."""
    rs = np.random.RandomState(1234)
    out = []
    for w, h in [(45, 37), (20, 50)]:
        yy, xx = np.mgrid[0:h, 0:w]
        base = np.stack([xx * 255 / w, yy * 255 / h, (xx + yy) * 127 / (w + h)], -1)
        noise = rs.randint(-40, 41, size=(h, w, 3))
        out.append(Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8), "RGB"))
    return out


# ---------------------------------------------------------------------------------------------------------------
# Model


def layer_norm(x, w, b, eps):
    return torch.nn.functional.layer_norm(x, (x.shape[-1],), w, b, eps)


def act(name, x):
    if name == "quick_gelu":
        return x * torch.sigmoid(1.702 * x)
    if name == "gelu":
        return 0.5 * x * (1 + torch.erf(x / np.sqrt(2)))
    raise ValueError(f"unsupported hidden_act {name}")


def clip_vision(pixels, W, c, dtype):
    g = lambda n: W[n].to(dtype)
    d, heads, p = c["hidden_size"], c["num_attention_heads"], c["patch_size"]
    eps = c.get("layer_norm_eps", 1e-5)
    n = pixels.shape[0]
    patches = torch.nn.functional.conv2d(pixels, g("embeddings.patch_embedding.weight"), stride=p)
    patches = patches.flatten(2).transpose(1, 2)
    cls = g("embeddings.class_embedding").expand(n, 1, d)
    x = torch.cat([cls, patches], 1) + g("embeddings.position_embedding.weight")[None]
    x = layer_norm(x, g("pre_layrnorm.weight"), g("pre_layrnorm.bias"), eps)
    states = []
    hd = d // heads
    lin = lambda x, name: x @ g(f"{name}.weight").T + g(f"{name}.bias")
    for i in range(c["num_hidden_layers"]):
        states.append(x)
        pre = f"encoder.layers.{i}"
        h = layer_norm(x, g(f"{pre}.layer_norm1.weight"), g(f"{pre}.layer_norm1.bias"), eps)
        t = h.shape[1]
        split = lambda y: y.view(n, t, heads, hd).transpose(1, 2)
        q = split(lin(h, f"{pre}.self_attn.q_proj") * hd**-0.5)
        k = split(lin(h, f"{pre}.self_attn.k_proj"))
        v = split(lin(h, f"{pre}.self_attn.v_proj"))
        probs = torch.softmax(q @ k.transpose(-1, -2), -1)
        ctx = (probs @ v).transpose(1, 2).reshape(n, t, d)
        x = x + lin(ctx, f"{pre}.self_attn.out_proj")
        h = layer_norm(x, g(f"{pre}.layer_norm2.weight"), g(f"{pre}.layer_norm2.bias"), eps)
        x = x + lin(act(c.get("hidden_act", "quick_gelu"), lin(h, f"{pre}.mlp.fc1")), f"{pre}.mlp.fc2")
    states.append(x)
    pooled = layer_norm(x[:, 0], g("post_layernorm.weight"), g("post_layernorm.bias"), eps)
    return x, pooled, states


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    dtype = torch.float32 if "--dtype=float32" in sys.argv else torch.float64
    model_dir, out_path = args
    config = json.load(open(os.path.join(model_dir, "config.json")))
    c = config.get("vision_config", config)
    pre = json.load(open(os.path.join(model_dir, "preprocessor_config.json")))
    W = load_safetensors(os.path.join(model_dir, "model.safetensors"))
    W = {k[len("vision_model.") :] if k.startswith("vision_model.") else k: v for k, v in W.items()}

    images, crops, pixels = [], [], []
    for img, pad in zip(test_images(), [False, True]):
        buf = io.BytesIO()
        img.save(buf, format="PNG")
        crop = clip_crop_u8(Image.open(io.BytesIO(buf.getvalue())), pre, pad)
        images.append({"png": base64.b64encode(buf.getvalue()).decode(), "padToSquare": pad, "size": list(img.size)})
        crops.append(crop)
        pixels.append(normalise(crop, pre))
    px = torch.from_numpy(np.stack(pixels)).to(dtype)
    with torch.no_grad():
        last, pooled, states = clip_vision(px, W, c, dtype)
    f = lambda t: t.to(torch.float64).numpy().tolist()
    json.dump(
        {
            "images": images,
            "crops_u8": base64.b64encode(np.stack(crops).tobytes()).decode(),
            "crops_shape": list(np.stack(crops).shape),
            "last_hidden_state": f(last),
            "pooled": f(pooled),
            "hidden_state_minus_2": f(states[-2]),
            "num_hidden_states": len(states),
            "dtype": str(dtype).replace("torch.", ""),
        },
        open(out_path, "w"),
    )


if __name__ == "__main__":
    main()
