#!/usr/bin/env python3
"""
PyTorch side of bench/scale.ts: load a Llama-family checkpoint (the same safetensors files ours loads) and time a
64-token prefill and a greedy KV-cache decode, the way Hugging Face's `generate` does it (DynamicCache: keys and
values concatenated per step; eager attention), in plain torch (no `transformers` here). Model semantics come from
llama_ref.py (RoPE, RMSNorm, GQA, masks), which the test fixtures check against our tfjs model.

Weights are read tensor by tensor through a memory map and copied once (float32), so peak RSS is about the
weights' bytes, as it is on our side. `--int8` converts every decoder Linear with torch's dynamic int8
quantization (`quantize_dynamic`, per-channel weights, int8 activations: PyTorch 1.13's CPU int8 path); torch 1.13
has no int4 CPU kernel, so int4 runs are compared with its f32 and int8.

Protocol (stdin/stdout, one JSON line each, so bench/scale.ts can interleave it with our runs):
  start: python3 decode_ref.py MODEL_DIR [--int8] [--threads N]   → {"ready": true, "load_s", "rss_mb", "peak_rss_mb", ...}
  {"cmd": "prefill", "ids": [...]}                                  → {"s": seconds, "next": id}
  {"cmd": "decode", "ids": [...], "n": N}                           → {"s": seconds for N steps, "ids": [...]}
  {"cmd": "quit"}
"""

import json
import math
import os
import struct
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import llama_ref  # noqa: E402


def rss_mb(field="VmRSS"):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def open_safetensors(model_dir):
    """name -> (file, dtype, shape, offset, nbytes) for model.safetensors or its sharded index."""
    single = os.path.join(model_dir, "model.safetensors")
    files = [single] if os.path.exists(single) else None
    if files is None:
        with open(os.path.join(model_dir, "model.safetensors.index.json")) as f:
            files = sorted({os.path.join(model_dir, v) for v in json.load(f)["weight_map"].values()})
    out = {}
    for path in files:
        with open(path, "rb") as f:
            (n,) = struct.unpack("<Q", f.read(8))
            header = json.loads(f.read(n).decode("utf-8"))
        for name, info in header.items():
            if name == "__metadata__":
                continue
            b, e = info["data_offsets"]
            out[name] = (path, info["dtype"], info["shape"], 8 + n + b, e - b)
    return out


def load_tensor(entry, maps):
    path, dt, shape, offset, nbytes = entry
    if path not in maps:
        maps[path] = np.memmap(path, dtype=np.uint8, mode="r")
    raw = maps[path][offset : offset + nbytes]
    if dt == "BF16":
        arr = (raw.view("<u2").astype(np.uint32) << 16).view(np.float32)
    elif dt == "F16":
        arr = raw.view("<f2").astype(np.float32)
    elif dt == "F32":
        arr = np.array(raw.view("<f4"))
    else:
        raise ValueError(f"{path}: {dt} weights are not supported here")
    return torch.from_numpy(arr.reshape(shape))


class Decoder(torch.nn.Module):
    def __init__(self, model_dir):
        super().__init__()
        with open(os.path.join(model_dir, "config.json")) as f:
            raw = json.load(f)
        if raw.get("quantization_config"):
            raise SystemExit(f"{model_dir} is quantized; give decode_ref.py the float checkpoint")
        self.cfg = cfg = llama_ref.Config(raw)
        entries = open_safetensors(model_dir)
        maps = {}
        get = lambda n: load_tensor(entries[n], maps)  # noqa: E731
        self.embed = get("model.embed_tokens.weight")
        self.layers = torch.nn.ModuleList()
        for i in range(cfg.num_hidden_layers):
            p = f"model.layers.{i}"
            layer = torch.nn.Module()
            for name, bias in [("self_attn.q_proj", cfg.qkv_bias), ("self_attn.k_proj", cfg.qkv_bias), ("self_attn.v_proj", cfg.qkv_bias),
                               ("self_attn.o_proj", cfg.o_bias), ("mlp.gate_proj", cfg.mlp_bias), ("mlp.up_proj", cfg.mlp_bias),
                               ("mlp.down_proj", cfg.mlp_bias)]:
                w = get(f"{p}.{name}.weight")
                lin = torch.nn.Linear(w.shape[1], w.shape[0], bias=bias)
                lin.weight = torch.nn.Parameter(w, requires_grad=False)
                if bias:
                    lin.bias = torch.nn.Parameter(get(f"{p}.{name}.bias"), requires_grad=False)
                setattr(layer, name.split(".")[1], lin)
            layer.ln1 = get(f"{p}.input_layernorm.weight")
            layer.ln2 = get(f"{p}.post_attention_layernorm.weight")
            self.layers.append(layer)
        self.norm = get("model.norm.weight")
        self.lm_head = self.embed if cfg.tie_word_embeddings else get("lm_head.weight")
        inv, self.att_scale = llama_ref.rope_inv_freq(cfg)
        self.inv_freq = inv
        del maps

    def step(self, ids, cache, pos0):
        """ids [1, T] → logits of the last position; cache is a list of (k, v) per layer, extended in place."""
        cfg = self.cfg
        t = ids.shape[1]
        x = self.embed[ids]
        pos = torch.arange(pos0, pos0 + t).unsqueeze(0)
        cos, sin = llama_ref.rope_cos_sin(self.inv_freq, pos, self.att_scale, x.dtype)
        h, kvh, hd = cfg.num_attention_heads, cfg.num_key_value_heads, cfg.head_dim
        s = pos0 + t
        mask = None
        if t > 1:
            mask = torch.full((t, s), float("-inf")).triu(pos0 + 1)
        for i, layer in enumerate(self.layers):
            y = llama_ref.rms_norm(x, layer.ln1, cfg.rms_norm_eps)
            q = layer.q_proj(y).view(1, t, h, hd).transpose(1, 2)
            k = layer.k_proj(y).view(1, t, kvh, hd).transpose(1, 2)
            v = layer.v_proj(y).view(1, t, kvh, hd).transpose(1, 2)
            q, k = llama_ref.apply_rotary_pos_emb(q, k, cos, sin)
            if cache[i] is not None:
                k = torch.cat([cache[i][0], k], dim=2)
                v = torch.cat([cache[i][1], v], dim=2)
            cache[i] = (k, v)
            kr = llama_ref.repeat_kv(k, h // kvh)
            vr = llama_ref.repeat_kv(v, h // kvh)
            scores = torch.matmul(q, kr.transpose(2, 3)) / math.sqrt(hd)
            if mask is not None:
                scores = scores + mask
            att = torch.matmul(torch.softmax(scores, dim=-1), vr)
            x = x + layer.o_proj(att.transpose(1, 2).reshape(1, t, h * hd))
            y = llama_ref.rms_norm(x, layer.ln2, cfg.rms_norm_eps)
            act = llama_ref.act_fn(cfg.hidden_act)
            x = x + layer.down_proj(act(layer.gate_proj(y)) * layer.up_proj(y))
        x = llama_ref.rms_norm(x[:, -1:], self.norm, cfg.rms_norm_eps)
        return F.linear(x, self.lm_head)[0, -1]


def main(argv):
    model_dir = argv[1]
    threads = int(argv[argv.index("--threads") + 1]) if "--threads" in argv else os.cpu_count()
    torch.set_num_threads(threads)
    t0 = time.perf_counter()
    with torch.inference_mode():
        model = Decoder(model_dir)
        if "--int8" in argv:
            torch.backends.quantized.engine = "onednn" if "onednn" in torch.backends.quantized.supported_engines else "qnnpack"
            model.layers = torch.ao.quantization.quantize_dynamic(model.layers, {torch.nn.Linear}, dtype=torch.qint8)
    load_s = time.perf_counter() - t0
    print(json.dumps({"ready": True, "load_s": load_s, "rss_mb": rss_mb(), "peak_rss_mb": rss_mb("VmHWM"), "torch": torch.__version__,
                      "threads": torch.get_num_threads(), "int8": "--int8" in argv,
                      "quantized_engine": torch.backends.quantized.engine if "--int8" in argv else None}), flush=True)
    for line in sys.stdin:
        cmd = json.loads(line)
        with torch.inference_mode():
            if cmd["cmd"] == "quit":
                break
            ids = torch.tensor([cmd["ids"]])
            cache = [None] * model.cfg.num_hidden_layers
            if cmd["cmd"] == "prefill":
                t0, c0 = time.perf_counter(), time.process_time()
                logits = model.step(ids, cache, 0)
                s, cpu = time.perf_counter() - t0, time.process_time() - c0
                print(json.dumps({"s": s, "cpu_s": cpu, "next": int(torch.argmax(logits))}), flush=True)
            elif cmd["cmd"] == "decode":
                logits = model.step(ids, cache, 0)
                pos = ids.shape[1]
                out = []
                t0, c0 = time.perf_counter(), time.process_time()
                for _ in range(cmd["n"]):
                    nxt = int(torch.argmax(logits))
                    out.append(nxt)
                    logits = model.step(torch.tensor([[nxt]]), cache, pos)
                    pos += 1
                s, cpu = time.perf_counter() - t0, time.process_time() - c0
                print(json.dumps({"s": s, "cpu_s": cpu, "ids": out, "peak_rss_mb": rss_mb("VmHWM")}), flush=True)


if __name__ == "__main__":
    main(sys.argv)
