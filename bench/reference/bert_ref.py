#!/usr/bin/env python3
"""
An independent PyTorch reference for Hugging Face's BertModel forward pass (the encoder of GTE / BGE / E5
sentence embedders) and GTE's `average_pool`, written from transformers' semantics (modeling_bert.py) so the tfjs
`BertEncoder` can be checked against code it does not share. Needs only torch and numpy (no `transformers`).

What it reproduces, and where HF defines it:
  * BertEmbeddings: word + absolute position (arange(T)) + token type embeddings, then LayerNorm(eps).
  * Extended attention mask: (1 - attention_mask)[:, None, None, :] * finfo(dtype).min, added to the scores.
  * BertSelfAttention (eager): q, k, v linears, heads of size hidden/heads, scores / sqrt(head), softmax.
  * BertSelfOutput: dense, then LayerNorm(dense + input) (post-norm). BertIntermediate: dense + hidden_act
    (exact erf GELU for "gelu"). BertOutput: dense, then LayerNorm(dense + attention output).
  * No pooler: the pooler's weights are ignored; GTE pools with average_pool:
    sum(last_hidden * mask) / sum(mask).
  * Weight names with or without the "bert." prefix.

CLI: python3 bert_ref.py MODEL_DIR INPUT.json OUTPUT.json [--dtype=float32|float64]
  MODEL_DIR has config.json and model.safetensors (F32/F64/F16/BF16 tensors).
  INPUT.json: {"input_ids": [[...]], "attention_mask": [[...]], "token_type_ids"?: [[...]]}
  OUTPUT.json: {"last_hidden_state": [B][T][H], "mean_pooled": [B][H]}
"""

import json
import math
import os
import struct
import sys

import numpy as np
import torch

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
        raw = buf[base + begin : base + end]
        dt = info["dtype"]
        if dt == "BF16":
            arr = (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
        elif dt in _ST_DTYPES:
            arr = np.frombuffer(raw, dtype=np.dtype(_ST_DTYPES[dt]).newbyteorder("<"))
        else:
            raise ValueError(f"{path}: tensor {name!r} has unsupported dtype {dt}")
        out[name] = torch.from_numpy(arr.copy().reshape(info["shape"]))
    return out


def gelu(x):
    # transformers' "gelu" is the exact erf form (GELUActivation).
    return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))


ACTIVATIONS = {
    "gelu": gelu,
    "relu": torch.relu,
    "gelu_new": lambda x: 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3))),
}


def layer_norm(x, w, b, eps):
    mean = x.mean(-1, keepdim=True)
    var = ((x - mean) ** 2).mean(-1, keepdim=True)
    return (x - mean) / torch.sqrt(var + eps) * w + b


def run(model_dir, inp, dtype):
    with open(os.path.join(model_dir, "config.json")) as f:
        cfg = json.load(f)
    if cfg.get("position_embedding_type", "absolute") != "absolute":
        raise ValueError("only absolute position embeddings are implemented")
    weights = load_safetensors(os.path.join(model_dir, "model.safetensors"))
    prefix = "bert." if "bert.embeddings.word_embeddings.weight" in weights else ""

    def w(name):
        return weights[prefix + name].to(dtype)

    def linear(x, name):
        return x @ w(name + ".weight").T + w(name + ".bias")

    eps = cfg.get("layer_norm_eps", 1e-12)
    heads = cfg["num_attention_heads"]
    hidden = cfg["hidden_size"]
    head = hidden // heads
    act = ACTIVATIONS[cfg.get("hidden_act", "gelu")]

    ids = torch.tensor(inp["input_ids"], dtype=torch.long)
    mask = torch.tensor(inp["attention_mask"], dtype=torch.long)
    types = torch.tensor(inp.get("token_type_ids") or [[0] * ids.shape[1]] * ids.shape[0], dtype=torch.long)
    B, T = ids.shape

    x = w("embeddings.word_embeddings.weight")[ids]
    x = x + w("embeddings.position_embeddings.weight")[torch.arange(T)][None]
    x = x + w("embeddings.token_type_embeddings.weight")[types]
    x = layer_norm(x, w("embeddings.LayerNorm.weight"), w("embeddings.LayerNorm.bias"), eps)

    ext = (1.0 - mask[:, None, None, :].to(dtype)) * torch.finfo(dtype).min
    for i in range(cfg["num_hidden_layers"]):
        p = f"encoder.layer.{i}"

        def split(y):
            return y.view(B, T, heads, head).permute(0, 2, 1, 3)

        q = split(linear(x, f"{p}.attention.self.query"))
        k = split(linear(x, f"{p}.attention.self.key"))
        v = split(linear(x, f"{p}.attention.self.value"))
        scores = q @ k.transpose(-1, -2) / math.sqrt(head) + ext
        ctx = (torch.softmax(scores, dim=-1) @ v).permute(0, 2, 1, 3).reshape(B, T, hidden)
        a = layer_norm(
            linear(ctx, f"{p}.attention.output.dense") + x,
            w(f"{p}.attention.output.LayerNorm.weight"),
            w(f"{p}.attention.output.LayerNorm.bias"),
            eps,
        )
        h = linear(act(linear(a, f"{p}.intermediate.dense")), f"{p}.output.dense")
        x = layer_norm(h + a, w(f"{p}.output.LayerNorm.weight"), w(f"{p}.output.LayerNorm.bias"), eps)

    m = mask[..., None].to(dtype)
    pooled = (x * m).sum(1) / m.sum(1)
    return {"last_hidden_state": x.tolist(), "mean_pooled": pooled.tolist()}


def main(argv):
    args = [a for a in argv if not a.startswith("--")]
    dtype = torch.float32
    for a in argv:
        if a.startswith("--dtype="):
            dtype = {"float32": torch.float32, "float64": torch.float64}[a.split("=", 1)[1]]
    if len(args) != 3:
        print("usage: bert_ref.py MODEL_DIR INPUT.json OUTPUT.json [--dtype=float32|float64]", file=sys.stderr)
        return 2
    model_dir, in_path, out_path = args
    with open(in_path) as f:
        inp = json.load(f)
    with torch.no_grad():
        out = run(model_dir, inp, dtype)
    with open(out_path, "w") as f:
        json.dump(out, f)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
