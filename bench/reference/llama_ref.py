#!/usr/bin/env python3
"""
An independent PyTorch reference for Hugging Face's LlamaForCausalLM / MistralForCausalLM / Qwen2ForCausalLM
forward pass and causal-LM loss, written from transformers' semantics (modeling_llama.py, modeling_mistral.py,
modeling_qwen2.py, modeling_rope_utils.py, masking_utils.py, loss_utils.py) so that our tfjs implementation can be
checked against something that does not share its code. It needs only torch and numpy (no `transformers`).

What it reproduces, and where HF defines it:
  * RMSNorm computed in float32, then `weight * x.to(input_dtype)`.
  * Rotary embeddings: inv_freq = 1 / base^(arange(0, dim, 2) / dim) in float32, rescaled for rope_scaling
    `linear` (inv_freq / factor) and `llama3` (Llama 3.1 wavelength bands); angles = position_ids x inv_freq,
    emb = cat(freqs, freqs), q' = q cos + rotate_half(q) sin (the half-split, not interleaved, convention).
  * Attention: eager path. GQA by `repeat_kv` (kv head h // n_rep serves query head h), scores * head_dim^-0.5,
    additive mask of finfo.min, softmax in float32.
  * Mask: causal by cache position (array index, not position id), hiding keys whose attention_mask is 0, and
    for sliding-window layers hiding keys with `kv_idx <= q_idx - sliding_window` (a window of `sliding_window`
    keys, the query's own included). Mistral: every layer uses config.sliding_window. Qwen2: only when
    use_sliding_window, and then only the layers whose layer_types entry is "sliding_attention" (by default
    i >= max_window_layers). Llama: never.
  * position_ids: by default `cumsum(attention_mask) - 1` with padded slots set to 1, the convention of HF's
    `generate` / `prepare_inputs_for_generation` for left-padded batches. (A bare `model(input_ids, attention_mask)`
    call in HF uses `arange(T)` instead; pass `"position_ids": "arange"` or explicit ids in the input to get that.)
  * Biases: llama q/k/v/o by `attention_bias`, gate/up/down by `mlp_bias`; qwen2 q/k/v always, o never;
    mistral none.
  * Tied embeddings (`tie_word_embeddings`): lm_head is embed_tokens.
  * Loss: logits upcast to float32, labels shifted left (position t predicts label t+1), cross-entropy with
    ignore_index -100, mean over counted tokens.

CLI: python3 llama_ref.py MODEL_DIR INPUT.json OUTPUT.json [--dtype=float32|float64]
  MODEL_DIR has config.json and model.safetensors (F32/F64/F16/BF16 tensors).
  INPUT.json: {"input_ids": [[...]], "attention_mask"?: [[...]], "labels"?: [[...]], "position_ids"?: [[...]]|"arange"}
  OUTPUT.json: {"logits": [B][T][V], "loss": float|null, "position_ids": [B][T]}
"""

import json
import math
import os
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F

IGNORE_INDEX = -100


# ----------------------------------------------------------------------------------------------- safetensors


_ST_DTYPES = {
    "F64": np.float64,
    "F32": np.float32,
    "F16": np.float16,
    "I64": np.int64,
    "I32": np.int32,
    "I16": np.int16,
    "I8": np.int8,
    "U8": np.uint8,
    "BOOL": np.bool_,
}


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
        shape = info["shape"]
        dt = info["dtype"]
        if dt == "BF16":
            # bfloat16 is the top half of a float32.
            u16 = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
            arr = u16.view(np.float32)
        elif dt in _ST_DTYPES:
            arr = np.frombuffer(raw, dtype=np.dtype(_ST_DTYPES[dt]).newbyteorder("<"))
        else:
            raise ValueError(f"{path}: tensor {name!r} has unsupported dtype {dt}")
        out[name] = torch.from_numpy(arr.copy().reshape(shape))
    return out


# ----------------------------------------------------------------------------------------------------- config


class Config:
    def __init__(self, raw):
        self.raw = raw
        self.model_type = raw.get("model_type", "llama")
        if self.model_type not in ("llama", "mistral", "qwen2"):
            raise ValueError(f"config.json: unsupported model_type {self.model_type!r}")
        self.vocab_size = raw["vocab_size"]
        self.hidden_size = raw["hidden_size"]
        self.intermediate_size = raw["intermediate_size"]
        self.num_hidden_layers = raw["num_hidden_layers"]
        self.num_attention_heads = raw["num_attention_heads"]
        kvh = raw.get("num_key_value_heads")
        self.num_key_value_heads = kvh if kvh is not None else self.num_attention_heads
        # HF: getattr(config, "head_dim", None) or hidden_size // num_attention_heads
        self.head_dim = raw.get("head_dim") or self.hidden_size // self.num_attention_heads
        self.rms_norm_eps = raw.get("rms_norm_eps", 1e-6)
        self.rope_theta = raw.get("rope_theta", 10000.0)
        self.rope_scaling = raw.get("rope_scaling")
        self.partial_rotary_factor = raw.get("partial_rotary_factor", 1.0)
        self.hidden_act = raw.get("hidden_act", "silu")
        self.tie_word_embeddings = raw.get("tie_word_embeddings", False)
        if self.model_type == "llama":
            self.qkv_bias = bool(raw.get("attention_bias", False))
            self.o_bias = self.qkv_bias
            self.mlp_bias = bool(raw.get("mlp_bias", False))
        elif self.model_type == "qwen2":
            self.qkv_bias, self.o_bias, self.mlp_bias = True, False, False
        else:  # mistral
            self.qkv_bias, self.o_bias, self.mlp_bias = False, False, False
        # Per-layer sliding window (None = full causal attention).
        sw = raw.get("sliding_window")
        if self.model_type == "mistral":
            self.layer_windows = [sw] * self.num_hidden_layers
        elif self.model_type == "qwen2":
            # Qwen2Config: sliding_window is dropped unless use_sliding_window; then layer_types (explicit, or
            # "sliding_attention" for layers i >= max_window_layers) picks the layers that use it.
            window = sw if raw.get("use_sliding_window", False) else None
            types = raw.get("layer_types")
            if types is None:
                mwl = raw.get("max_window_layers", 28)
                types = [
                    "sliding_attention" if window is not None and i >= mwl else "full_attention"
                    for i in range(self.num_hidden_layers)
                ]
            self.layer_windows = [window if t == "sliding_attention" else None for t in types]
        else:
            self.layer_windows = [None] * self.num_hidden_layers


# ------------------------------------------------------------------------------------------------------ rope


def rope_inv_freq(cfg):
    """inv_freq (float32) and the cos/sin attention scaling, as ROPE_INIT_FUNCTIONS compute them."""
    dim = int(cfg.head_dim * cfg.partial_rotary_factor)
    base = float(cfg.rope_theta)
    inv_freq = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))
    rs = cfg.rope_scaling
    rope_type = "default"
    if rs is not None:
        rope_type = rs.get("rope_type", rs.get("type", "default"))
    if rope_type == "default":
        return inv_freq, 1.0
    if rope_type == "linear":
        return inv_freq / rs["factor"], 1.0
    if rope_type == "llama3":
        factor = rs["factor"]
        low_freq_factor = rs["low_freq_factor"]
        high_freq_factor = rs["high_freq_factor"]
        old_context_len = rs["original_max_position_embeddings"]
        low_freq_wavelen = old_context_len / low_freq_factor
        high_freq_wavelen = old_context_len / high_freq_factor
        wavelen = 2 * math.pi / inv_freq
        # long wavelengths (low frequencies) are divided by factor; short ones are kept
        inv_freq_llama = torch.where(wavelen > low_freq_wavelen, inv_freq / factor, inv_freq)
        smooth_factor = (old_context_len / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor)
        smoothed = (1 - smooth_factor) * inv_freq_llama / factor + smooth_factor * inv_freq_llama
        is_medium = ~(wavelen < high_freq_wavelen) * ~(wavelen > low_freq_wavelen)
        return torch.where(is_medium, smoothed, inv_freq_llama), 1.0
    raise ValueError(f"rope_scaling type {rope_type!r} not implemented in the reference")


def rope_cos_sin(inv_freq, position_ids, attention_scaling, dtype):
    """cos, sin of shape [B, T, dim], computed in float32 as LlamaRotaryEmbedding.forward does."""
    inv = inv_freq[None, :, None].float().expand(position_ids.shape[0], -1, 1)
    pos = position_ids[:, None, :].float()
    freqs = (inv @ pos).transpose(1, 2)
    emb = torch.cat((freqs, freqs), dim=-1)
    return (emb.cos() * attention_scaling).to(dtype), (emb.sin() * attention_scaling).to(dtype)


def rotate_half(x):
    x1 = x[..., : x.shape[-1] // 2]
    x2 = x[..., x.shape[-1] // 2 :]
    return torch.cat((-x2, x1), dim=-1)


def apply_rotary_pos_emb(q, k, cos, sin):
    cos = cos.unsqueeze(1)
    sin = sin.unsqueeze(1)
    return (q * cos) + (rotate_half(q) * sin), (k * cos) + (rotate_half(k) * sin)


# ----------------------------------------------------------------------------------------------------- layers


def rms_norm(x, weight, eps):
    input_dtype = x.dtype
    h = x.to(torch.float32)
    variance = h.pow(2).mean(-1, keepdim=True)
    h = h * torch.rsqrt(variance + eps)
    return weight * h.to(input_dtype)


def act_fn(name):
    if name in ("silu", "swish"):
        return F.silu
    if name == "gelu":
        return F.gelu
    if name in ("gelu_pytorch_tanh", "gelu_new"):
        return lambda x: F.gelu(x, approximate="tanh")
    if name == "relu":
        return F.relu
    raise ValueError(f"hidden_act {name!r} not implemented in the reference")


def repeat_kv(x, n_rep):
    b, kvh, s, d = x.shape
    if n_rep == 1:
        return x
    return x[:, :, None, :, :].expand(b, kvh, n_rep, s, d).reshape(b, kvh * n_rep, s, d)


def build_mask(attention_mask, sliding_window, dtype):
    """Additive [B, 1, T, T] mask: 0 where a query may attend, finfo(dtype).min elsewhere."""
    b, t = attention_mask.shape
    q_idx = torch.arange(t)[:, None]
    kv_idx = torch.arange(t)[None, :]
    allowed = kv_idx <= q_idx
    if sliding_window is not None:
        allowed = allowed & (kv_idx > q_idx - sliding_window)
    allowed = allowed[None, None, :, :] & attention_mask.bool()[:, None, None, :]
    mask = torch.zeros(b, 1, t, t, dtype=dtype)
    return mask.masked_fill(~allowed, torch.finfo(dtype).min)


class Model:
    def __init__(self, cfg, weights, dtype=torch.float32):
        self.cfg = cfg
        self.dtype = dtype
        self.w = {k: v.to(dtype) for k, v in weights.items()}
        self.inv_freq, self.attention_scaling = rope_inv_freq(cfg)
        self.act = act_fn(cfg.hidden_act)

    def _get(self, name):
        if name not in self.w:
            raise KeyError(f"model.safetensors: missing tensor {name!r}")
        return self.w[name]

    def _linear(self, x, name, bias):
        return F.linear(x, self._get(name + ".weight"), self._get(name + ".bias") if bias else None)

    def _attention(self, i, x, cos, sin, mask):
        cfg = self.cfg
        p = f"model.layers.{i}.self_attn"
        b, t, _ = x.shape
        shape = (b, t, -1, cfg.head_dim)
        q = self._linear(x, p + ".q_proj", cfg.qkv_bias).view(shape).transpose(1, 2)
        k = self._linear(x, p + ".k_proj", cfg.qkv_bias).view(shape).transpose(1, 2)
        v = self._linear(x, p + ".v_proj", cfg.qkv_bias).view(shape).transpose(1, 2)
        q, k = apply_rotary_pos_emb(q, k, cos, sin)
        n_rep = cfg.num_attention_heads // cfg.num_key_value_heads
        k = repeat_kv(k, n_rep)
        v = repeat_kv(v, n_rep)
        scores = torch.matmul(q, k.transpose(2, 3)) * (cfg.head_dim**-0.5)
        scores = scores + mask
        probs = torch.softmax(scores, dim=-1, dtype=torch.float32).to(q.dtype)
        out = torch.matmul(probs, v).transpose(1, 2).reshape(b, t, -1)
        return self._linear(out, p + ".o_proj", cfg.o_bias)

    def _mlp(self, i, x):
        cfg = self.cfg
        p = f"model.layers.{i}.mlp"
        gate = self._linear(x, p + ".gate_proj", cfg.mlp_bias)
        up = self._linear(x, p + ".up_proj", cfg.mlp_bias)
        return self._linear(self.act(gate) * up, p + ".down_proj", cfg.mlp_bias)

    def forward(self, input_ids, attention_mask, position_ids):
        cfg = self.cfg
        x = F.embedding(input_ids, self._get("model.embed_tokens.weight"))
        cos, sin = rope_cos_sin(self.inv_freq, position_ids, self.attention_scaling, self.dtype)
        masks = {}
        for i in range(cfg.num_hidden_layers):
            sw = cfg.layer_windows[i]
            if sw not in masks:
                masks[sw] = build_mask(attention_mask, sw, self.dtype)
            p = f"model.layers.{i}"
            h = x + self._attention(
                i, rms_norm(x, self._get(p + ".input_layernorm.weight"), cfg.rms_norm_eps), cos, sin, masks[sw]
            )
            x = h + self._mlp(i, rms_norm(h, self._get(p + ".post_attention_layernorm.weight"), cfg.rms_norm_eps))
        x = rms_norm(x, self._get("model.norm.weight"), cfg.rms_norm_eps)
        if cfg.tie_word_embeddings:
            head = self._get("model.embed_tokens.weight")
        else:
            head = self._get("lm_head.weight")
        return F.linear(x, head)


def default_position_ids(attention_mask):
    """HF generate's convention: cumsum(mask) - 1, padded slots set to 1."""
    pos = attention_mask.long().cumsum(-1) - 1
    pos.masked_fill_(attention_mask == 0, 1)
    return pos


def causal_lm_loss(logits, labels):
    """HF ForCausalLMLoss: float32 logits, labels shifted left, CE with ignore_index -100, mean over counted."""
    logits = logits.float()
    labels = F.pad(labels, (0, 1), value=IGNORE_INDEX)
    shift_labels = labels[..., 1:].contiguous()
    return F.cross_entropy(
        logits.view(-1, logits.shape[-1]), shift_labels.view(-1), ignore_index=IGNORE_INDEX, reduction="mean"
    )


def load_model(model_dir, dtype=torch.float32):
    with open(os.path.join(model_dir, "config.json")) as f:
        cfg = Config(json.load(f))
    weights = load_safetensors(os.path.join(model_dir, "model.safetensors"))
    return Model(cfg, weights, dtype)


def run(model_dir, inp, dtype=torch.float32):
    model = load_model(model_dir, dtype)
    input_ids = torch.tensor(inp["input_ids"], dtype=torch.long)
    if inp.get("attention_mask") is not None:
        attention_mask = torch.tensor(inp["attention_mask"], dtype=torch.long)
    else:
        attention_mask = torch.ones_like(input_ids)
    pos = inp.get("position_ids")
    if pos is None:
        position_ids = default_position_ids(attention_mask)
    elif pos == "arange":
        position_ids = torch.arange(input_ids.shape[1])[None, :].expand_as(input_ids)
    else:
        position_ids = torch.tensor(pos, dtype=torch.long)
    with torch.no_grad():
        logits = model.forward(input_ids, attention_mask, position_ids)
        loss = None
        if inp.get("labels") is not None:
            loss = causal_lm_loss(logits, torch.tensor(inp["labels"], dtype=torch.long)).item()
    return {"logits": logits.double().tolist(), "loss": loss, "position_ids": position_ids.tolist()}


def main(argv):
    args = [a for a in argv if not a.startswith("--")]
    dtype = torch.float32
    for a in argv:
        if a.startswith("--dtype="):
            dtype = {"float32": torch.float32, "float64": torch.float64}[a.split("=", 1)[1]]
    if len(args) != 3:
        print("usage: llama_ref.py MODEL_DIR INPUT.json OUTPUT.json [--dtype=float32|float64]", file=sys.stderr)
        return 2
    model_dir, in_path, out_path = args
    with open(in_path) as f:
        inp = json.load(f)
    out = run(model_dir, inp, dtype)
    with open(out_path, "w") as f:
        json.dump(out, f)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
