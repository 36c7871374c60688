#!/usr/bin/env python3
"""
An independent reference for X-CLIP's video embedding (Hugging Face `XCLIPModel(...).video_embeds`, what the seed's
`video_xclip` modality projects) and its frame preprocessing (`XCLIPProcessor` = VideoMAE image processor with
Pillow), written in plain PyTorch from transformers' semantics (modeling_x_clip.py, image_processing_videomae.py),
so the TypeScript encoder is checked against code it does not share. Needs torch, numpy, Pillow; no transformers.

What it reproduces:
  * Preprocessing per frame: resize so the shortest edge is `size` (long edge int(size*long/short)) with Pillow's
    `resample` (2 = bilinear), centre crop with floor offsets, /255, (x - image_mean) / image_std, HWC -> CHW.
  * Vision tower on videos*frames images: Conv2d patch embedding (no bias), CLS prepended, + position embedding,
    pre_layernorm. Each layer (XCLIPVisionEncoderLayer): msg = message_fc(x[:, 0]) viewed [videos, frames, d];
    msg = msg + message_attn(message_ln(msg)); x' = cat(x, msg per frame); x' = x' + self_attn(layer_norm1(x'));
    x = x'[:, :tokens]; x = x + fc2(act(fc1(layer_norm2(x)))). Attention: q scaled by head_dim**-0.5, softmax, no
    mask. post_layernorm of CLS; visual_projection (no bias).
  * MIT: x = frames + position_embedding; CLIP encoder layers; + frames (residual); mean over frames.
  * video_embeds = that / its L2 norm.

CLI: python3 xclip_video_ref.py MODEL_DIR OUTPUT.json
  MODEL_DIR: config.json (XCLIPConfig), model.safetensors, preprocessor_config.json.
"""

import base64
import json
import os
import struct
import sys

import numpy as np
import torch
from PIL import Image

torch.set_default_dtype(torch.float64)
_ST = {"F64": np.float64, "F32": np.float32, "F16": np.float16}


def load_safetensors(path):
    with open(path, "rb") as f:
        buf = f.read()
    (n,) = struct.unpack("<Q", buf[:8])
    header = json.loads(buf[8 : 8 + n].decode("utf-8"))
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        arr = np.frombuffer(buf[8 + n + b : 8 + n + e], dtype=np.dtype(_ST[info["dtype"]]).newbyteorder("<"))
        out[name] = torch.from_numpy(arr.astype(np.float64).reshape(info["shape"]))
    return out


def frames_u8(videos, frames, h, w):
    """Smooth colour patterns, one per frame (time shifts them), as uint8 [videos, frames, h, w, 3]."""
    out = np.zeros((videos, frames, h, w, 3), dtype=np.uint8)
    ys, xs = np.mgrid[0:h, 0:w]
    for v in range(videos):
        for t in range(frames):
            for c in range(3):
                val = 127.5 + 120 * np.sin(0.21 * xs * (c + 1) + 0.13 * ys * (v + 1) + 0.7 * t + c)
                out[v, t, :, :, c] = np.clip(np.round(val), 0, 255).astype(np.uint8)
    return out


def preprocess(img_u8, cfg):
    size = cfg["size"]
    size = size["shortest_edge"] if isinstance(size, dict) else size
    crop = cfg["crop_size"]
    crop_h, crop_w = (crop["height"], crop["width"]) if isinstance(crop, dict) else (crop, crop)
    im = Image.fromarray(img_u8, "RGB")
    w, h = im.size
    short, long = (w, h) if w <= h else (h, w)
    new_long = int(size * long / short)
    nw, nh = (size, new_long) if w <= h else (new_long, size)
    im = im.resize((nw, nh), resample=cfg.get("resample", 2))
    top = (nh - crop_h) // 2
    left = (nw - crop_w) // 2
    a = np.asarray(im, dtype=np.uint8)[top : top + crop_h, left : left + crop_w]
    x = a.astype(np.float64) * (1 / 255)
    x = x.astype(np.float32)
    mean = np.array(cfg["image_mean"], dtype=np.float32)
    std = np.array(cfg["image_std"], dtype=np.float32)
    x = (x - mean) / std
    return x.transpose(2, 0, 1)


def act(x, name):
    if name == "quick_gelu":
        return x * torch.sigmoid(1.702 * x)
    if name == "gelu":
        return torch.nn.functional.gelu(x)
    raise ValueError(name)


def linear(x, W, name, bias=True):
    y = x @ W[name + ".weight"].T
    return y + W[name + ".bias"] if bias else y


def layer_norm(x, W, name, eps):
    return torch.nn.functional.layer_norm(x, (x.shape[-1],), W[name + ".weight"], W[name + ".bias"], eps)


def attention(x, W, name, heads):
    n, t, d = x.shape
    hd = d // heads
    q = linear(x, W, name + ".q_proj") * hd**-0.5
    k = linear(x, W, name + ".k_proj")
    v = linear(x, W, name + ".v_proj")
    sh = lambda y: y.view(n, t, heads, hd).transpose(1, 2)
    p = torch.softmax(sh(q) @ sh(k).transpose(-1, -2), dim=-1)
    o = (p @ sh(v)).transpose(1, 2).reshape(n, t, d)
    return linear(o, W, name + ".out_proj")


def clip_layer(x, W, name, heads, eps, hidden_act):
    x = x + attention(layer_norm(x, W, name + ".layer_norm1", eps), W, name + ".self_attn", heads)
    h = layer_norm(x, W, name + ".layer_norm2", eps)
    return x + linear(act(linear(h, W, name + ".mlp.fc1"), hidden_act), W, name + ".mlp.fc2")


def video_embeds(pixels, W, cfg):
    vc = cfg["vision_config"]
    T = vc["num_frames"]
    eps = vc.get("layer_norm_eps", 1e-5)
    heads = vc["num_attention_heads"]
    hidden_act = vc.get("hidden_act", "quick_gelu")
    bt = pixels.shape[0]
    p = vc["patch_size"]
    x = torch.nn.functional.conv2d(pixels, W["vision_model.embeddings.patch_embedding.weight"], stride=p)
    x = x.flatten(2).transpose(1, 2)
    d = x.shape[-1]
    cls = W["vision_model.embeddings.class_embedding"].expand(bt, 1, d)
    x = torch.cat([cls, x], dim=1) + W["vision_model.embeddings.position_embedding.weight"]
    x = layer_norm(x, W, "vision_model.pre_layernorm", eps)
    for i in range(vc["num_hidden_layers"]):
        L = f"vision_model.encoder.layers.{i}"
        s = x.shape[1]
        msg = linear(x[:, 0, :], W, L + ".message_fc").view(bt // T, T, d)
        msg = msg + attention(layer_norm(msg, W, L + ".message_ln", eps), W, L + ".message_attn", heads)
        xm = torch.cat([x, msg.reshape(bt, 1, d)], dim=1)
        xm = xm + attention(layer_norm(xm, W, L + ".layer_norm1", eps), W, L + ".self_attn", heads)
        x = xm[:, :s, :]
        h = layer_norm(x, W, L + ".layer_norm2", eps)
        x = x + linear(act(linear(h, W, L + ".mlp.fc1"), hidden_act), W, L + ".mlp.fc2")
    pooled = layer_norm(x[:, 0, :], W, "vision_model.post_layernorm", eps)
    frames = linear(pooled, W, "visual_projection", bias=False).view(bt // T, T, -1)
    m = frames + W["mit.position_embedding"]
    for i in range(vc.get("mit_num_hidden_layers", 1)):
        m = clip_layer(m, W, f"mit.encoder.layers.{i}", vc.get("mit_num_attention_heads", 8), eps, hidden_act)
    feats = (m + frames).mean(dim=1)
    return feats, feats / feats.norm(p=2, dim=-1, keepdim=True)


def main():
    model_dir, out_path = sys.argv[1], sys.argv[2]
    cfg = json.load(open(os.path.join(model_dir, "config.json")))
    pcfg = json.load(open(os.path.join(model_dir, "preprocessor_config.json")))
    W = load_safetensors(os.path.join(model_dir, "model.safetensors"))
    T = cfg["vision_config"]["num_frames"]
    u8 = frames_u8(2, T, 40, 48)
    pix = np.stack([preprocess(u8[v, t], pcfg) for v in range(u8.shape[0]) for t in range(T)])
    with torch.no_grad():
        feats, emb = video_embeds(torch.from_numpy(pix.astype(np.float64)), W, cfg)
    json.dump(
        {
            "frames_shape": list(u8.shape),
            "frames_u8": base64.b64encode(u8.tobytes()).decode("ascii"),
            "pixel_values_shape": list(pix.shape),
            "pixel_values": base64.b64encode(pix.astype("<f4").tobytes()).decode("ascii"),
            "video_features": feats.tolist(),
            "video_embeds": emb.tolist(),
        },
        open(out_path, "w"),
    )


if __name__ == "__main__":
    main()
