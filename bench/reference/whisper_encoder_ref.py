#!/usr/bin/env python3
"""
An independent PyTorch reference for Hugging Face's Whisper audio path, written from transformers' semantics
(models/whisper/modeling_whisper.py, feature_extraction_whisper.py, audio_utils.py) so the tfjs implementation
is checked against code that shares nothing with it. Needs only torch and numpy (no `transformers`). Computes in
float64 so the reference error is far below the 1e-4 the tests allow.

What it reproduces:
  * WhisperEncoder.forward: gelu(conv1(x)), gelu(conv2(x)) (Conv1d kernel 3, padding 1, stride 1 then 2, exact
    GELU), permute to [n, T, d], + embed_positions.weight[:T], pre-LN layers
    (x + out_proj(attn(self_attn_layer_norm(x))); x + fc2(gelu(fc1(final_layer_norm(x))))), final layer_norm.
    WhisperAttention: q_proj(x) * head_dim^-0.5, k_proj without bias, softmax over keys, out_proj.
    (HF insists on frames == 2 * max_source_positions; the formula is the same for fewer frames, which this
    reference also computes so the tests can cover odd frame counts.)
  * The seed's audio feature (multi_token/modalities/audio_whisper.py): WhisperModel(input_features,
    decoder_input_ids=[[decoder_start_token_id]]).last_hidden_state, i.e. the decoder at position 0:
    embed_tokens[start] (* sqrt(d) if scale_embedding) + embed_positions[0], pre-LN layers of causal
    self-attention (one position), cross-attention to the encoder output and the MLP, final layer_norm.
  * WhisperFeatureExtractor's log-mel (the torch path, _torch_extract_fbank_features): pad with zeros to
    n_samples, torch.stft(n_fft, hop, periodic Hann, center=True, reflect padding), drop the last frame,
    |X|^2, slaney-normalised slaney-scale mel filters from 0 to 8 kHz, log10(max(., 1e-10)),
    max(., max - 8), (x + 4) / 4.

CLI: python3 whisper_encoder_ref.py MODEL_DIR INPUT.json OUTPUT.json
  MODEL_DIR: config.json + model.safetensors (F32) of a Whisper checkpoint (any of the HF name layouts).
  INPUT.json: {"case": {...copied through...}, "inputs": [{"shape": [n, mels, frames], "data": [...]}, ...],
               "waveform": [...], "preprocessor_config": {...}}
  OUTPUT.json: {"case", "encoder": [{"shape", "data"}...], "decoder_state": [{"shape", "data"}...],
                "log_mel": {"shape", "data"}}
Made by: node --import tsx bench/reference/whisper-ref-case.ts /tmp/wref && \
  python3 bench/reference/whisper_encoder_ref.py /tmp/wref/model /tmp/wref/input.json \
  test/fixtures/whisper-encoder-ref.json
"""

import json
import math
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)


def load_safetensors(path):
    """u64 LE header length, JSON header, data area; F32 only (what the tiny checkpoints hold)."""
    with open(path, "rb") as f:
        buf = f.read()
    (n,) = struct.unpack("<Q", buf[:8])
    header = json.loads(buf[8 : 8 + n].decode("utf-8"))
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] != "F32":
            raise ValueError(f"{path}: {name} is {info['dtype']}, this reference reads F32")
        b, e = info["data_offsets"]
        arr = np.frombuffer(buf[8 + n + b : 8 + n + e], dtype="<f4").reshape(info["shape"])
        out[name] = torch.from_numpy(arr.astype(np.float64))
    return out


def prefix(w, part):
    probe = "conv1.weight" if part == "encoder" else "embed_tokens.weight"
    cands = ["model.encoder.", "encoder.", ""] if part == "encoder" else ["model.decoder.", "decoder."]
    for p in cands:
        if p + probe in w:
            return p
    raise KeyError(f"no {part} weights")


def layer_norm(w, p, x):
    return F.layer_norm(x, (x.shape[-1],), w[p + ".weight"], w[p + ".bias"], eps=1e-5)


def linear(w, p, x, bias=True):
    return F.linear(x, w[p + ".weight"], w[p + ".bias"] if bias else None)


def attention(w, p, x, kv, heads):
    n, t, d = x.shape
    s = kv.shape[1]
    hd = d // heads
    q = (linear(w, p + ".q_proj", x) * hd**-0.5).view(n, t, heads, hd).transpose(1, 2)
    k = linear(w, p + ".k_proj", kv, bias=False).view(n, s, heads, hd).transpose(1, 2)
    v = linear(w, p + ".v_proj", kv).view(n, s, heads, hd).transpose(1, 2)
    probs = torch.softmax(q @ k.transpose(-1, -2), dim=-1)
    return linear(w, p + ".out_proj", (probs @ v).transpose(1, 2).reshape(n, t, d))


def encoder(w, cfg, feats):
    p = prefix(w, "encoder")
    x = F.gelu(F.conv1d(feats, w[p + "conv1.weight"], w[p + "conv1.bias"], stride=1, padding=1))
    x = F.gelu(F.conv1d(x, w[p + "conv2.weight"], w[p + "conv2.bias"], stride=2, padding=1))
    x = x.permute(0, 2, 1)
    x = x + w[p + "embed_positions.weight"][: x.shape[1]]
    for i in range(cfg["encoder_layers"]):
        l = f"{p}layers.{i}"
        a = layer_norm(w, l + ".self_attn_layer_norm", x)
        x = x + attention(w, l + ".self_attn", a, a, cfg["encoder_attention_heads"])
        h = layer_norm(w, l + ".final_layer_norm", x)
        x = x + linear(w, l + ".fc2", F.gelu(linear(w, l + ".fc1", h)))
    return layer_norm(w, p + "layer_norm", x)


def decoder_start_state(w, cfg, enc):
    p = prefix(w, "decoder")
    d = cfg["d_model"]
    scale = math.sqrt(d) if cfg.get("scale_embedding", False) else 1.0
    tok = w[p + "embed_tokens.weight"][cfg["decoder_start_token_id"]] * scale
    h = (tok + w[p + "embed_positions.weight"][0]).view(1, 1, d).repeat(enc.shape[0], 1, 1)
    heads = cfg["decoder_attention_heads"]
    for i in range(cfg["decoder_layers"]):
        l = f"{p}layers.{i}"
        a = layer_norm(w, l + ".self_attn_layer_norm", h)
        h = h + attention(w, l + ".self_attn", a, a, heads)  # causal over one position = plain attention
        h = h + attention(w, l + ".encoder_attn", layer_norm(w, l + ".encoder_attn_layer_norm", h), enc, heads)
        h = h + linear(w, l + ".fc2", F.gelu(linear(w, l + ".fc1", layer_norm(w, l + ".final_layer_norm", h))))
    return layer_norm(w, p + "layer_norm", h)


# ------------------------------------------------------------------------------------------- log-mel features


def hz_to_mel_slaney(f):
    f = np.asarray(f, dtype=np.float64)
    mel = 3.0 * f / 200.0
    logstep = 27.0 / np.log(6.4)
    return np.where(f >= 1000.0, 15.0 + np.log(np.maximum(f, 1e-10) / 1000.0) * logstep, mel)


def mel_to_hz_slaney(m):
    m = np.asarray(m, dtype=np.float64)
    logstep = np.log(6.4) / 27.0
    return np.where(m >= 15.0, 1000.0 * np.exp(logstep * (m - 15.0)), 200.0 * m / 3.0)


def mel_filters(n_freqs, n_mels, sr, fmin=0.0, fmax=8000.0):
    """audio_utils.mel_filter_bank(..., norm='slaney', mel_scale='slaney'): [n_freqs, n_mels]."""
    mel_pts = np.linspace(hz_to_mel_slaney(fmin), hz_to_mel_slaney(fmax), n_mels + 2)
    filter_freqs = mel_to_hz_slaney(mel_pts)
    fft_freqs = np.linspace(0, sr // 2, n_freqs)
    diff = np.diff(filter_freqs)
    slopes = filter_freqs[None, :] - fft_freqs[:, None]
    down = -slopes[:, :-2] / diff[:-1]
    up = slopes[:, 2:] / diff[1:]
    fb = np.maximum(0.0, np.minimum(down, up))
    enorm = 2.0 / (filter_freqs[2 : n_mels + 2] - filter_freqs[:n_mels])
    return fb * enorm[None, :]


def log_mel(waveform, pc):
    x = np.zeros(pc["n_samples"], dtype=np.float64)
    x[: min(len(waveform), pc["n_samples"])] = waveform[: pc["n_samples"]]
    n_fft, hop = pc["n_fft"], pc["hop_length"]
    stft = torch.stft(torch.from_numpy(x), n_fft, hop, window=torch.hann_window(n_fft), return_complex=True)
    mags = stft[..., :-1].abs() ** 2
    filters = torch.from_numpy(mel_filters(1 + n_fft // 2, pc["feature_size"], pc["sampling_rate"]))
    spec = torch.clamp(filters.T @ mags, min=1e-10).log10()
    spec = torch.maximum(spec, spec.max() - 8.0)
    return (spec + 4.0) / 4.0


def packed(t):
    return {"shape": list(t.shape), "data": [float(f"{v:.8g}") for v in t.reshape(-1).tolist()]}


def main():
    model_dir, input_path, output_path = sys.argv[1:4]
    with open(f"{model_dir}/config.json") as f:
        cfg = json.load(f)
    w = load_safetensors(f"{model_dir}/model.safetensors")
    with open(input_path) as f:
        inp = json.load(f)
    out = {"case": inp["case"], "encoder": [], "decoder_state": []}
    with torch.no_grad():
        for item in inp["inputs"]:
            feats = torch.tensor(item["data"], dtype=torch.float64).view(*item["shape"])
            enc = encoder(w, cfg, feats)
            out["encoder"].append(packed(enc))
            out["decoder_state"].append(packed(decoder_start_state(w, cfg, enc)))
        out["log_mel"] = packed(log_mel(np.asarray(inp["waveform"], dtype=np.float64), inp["preprocessor_config"]))
    with open(output_path, "w") as f:
        json.dump(out, f, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
