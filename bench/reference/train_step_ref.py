#!/usr/bin/env python3
"""
PyTorch reference for one full-finetune optimizer step of a tiny LMM, for `bench/train-step.ts`.

The model is the one `llama_ref.py` defines (HF Llama semantics, imported, not re-implemented) plus the
multimodal front end our `LMM.forward` has: a LLaVA patch projector (`Linear → GELU(erf) → Linear`, the
seed's `mlp2x_gelu`) on precomputed features, spliced into the token embeddings at placeholder positions.
One step is what `Trainer.step()` does (and what the HF Trainer does): forward, causal-LM loss, backward,
global-norm clipping, `torch.optim.AdamW` with HF's no-decay groups (biases and norm weights). float32.

Inputs (a folder written by the bench):
  config.json, model.safetensors       the LM (read by llama_ref.load_model)
  projector.safetensors                `0.weight`, `0.bias`, `2.weight`, `2.bias` (seed names, unprefixed)
  features.safetensors                 `features` [items, featureTokens, featureDim] in batch row order
  batch.json                           {token_ids [B][T], source_rows [B*T] (-1 = text token, else the row of the
                                        flattened projector output), labels [B][T], attention_mask [B][T],
                                        lr, weight_decay, max_grad_norm, projector_name}

Usage:
  train_step_ref.py DIR [--threads N] [--steps K]   one-shot: check + K timed steps, prints one JSON line
  train_step_ref.py DIR --serve                     line protocol on stdin/stdout (the bench interleaves A/B):
      {"cmd": "check", "threads": N}             → {"loss0", "loss1", "grad_norm"}  (first step, then the
                                                    loss on the same batch after it)
      {"cmd": "time", "threads": N, "steps": K}  → {"seconds": [...], "cpu_seconds": [...]}  (K more steps;
                                                    wall time, and process CPU time over all threads)
      {"cmd": "quit"}
"""

import argparse
import json
import os
import re
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import llama_ref  # noqa: E402  (the independent HF-semantics reference)


def no_decay(name):
    """HF Trainer's exclusion (same rule as src/train/trainer.ts `noDecay`)."""
    return name.endswith(".bias") or re.search(r"norm\.weight$|layernorm\.weight$|LayerNorm\.weight$", name) is not None


class TinyLMM:
    """llama_ref.Model with trainable leaf tensors, a patch projector and the embedding splice."""

    def __init__(self, folder):
        with open(os.path.join(folder, "batch.json")) as f:
            self.spec = json.load(f)
        self.model = llama_ref.load_model(folder, torch.float32)
        proj = llama_ref.load_safetensors(os.path.join(folder, "projector.safetensors"))
        prefix = f"model.{self.spec['projector_name']}_lmm_projector."
        self.model.w.update({prefix + k: v.float() for k, v in proj.items()})
        self.proj = prefix
        self.params = {}
        for name, t in self.model.w.items():
            t.requires_grad_(True)
            self.params[name] = t
        feats = llama_ref.load_safetensors(os.path.join(folder, "features.safetensors"))
        self.features = feats["features"].float()
        s = self.spec
        self.token_ids = torch.tensor(s["token_ids"], dtype=torch.long)
        self.source_rows = torch.tensor(s["source_rows"], dtype=torch.long)
        self.labels = torch.tensor(s["labels"], dtype=torch.long)
        self.attention_mask = torch.tensor(s["attention_mask"], dtype=torch.long)
        self.position_ids = llama_ref.default_position_ids(self.attention_mask)
        decay = [p for n, p in self.params.items() if not no_decay(n)]
        rest = [p for n, p in self.params.items() if no_decay(n)]
        self.opt = torch.optim.AdamW(
            [{"params": decay, "weight_decay": s["weight_decay"]}, {"params": rest, "weight_decay": 0.0}],
            lr=s["lr"],
            betas=(0.9, 0.999),
            eps=1e-8,
        )

    def project(self):
        w = self.model.w
        p = self.proj
        h = F.linear(self.features, w[p + "0.weight"], w[p + "0.bias"])
        h = F.linear(F.gelu(h), w[p + "2.weight"], w[p + "2.bias"])
        return h.reshape(-1, h.shape[-1])

    def embeds(self):
        """Token embeddings with placeholder positions replaced by projector rows (src/splice/splice.ts)."""
        b, t = self.token_ids.shape
        table = self.model.w["model.embed_tokens.weight"]
        flat = F.embedding(self.token_ids, table).reshape(b * t, -1)
        projected = self.project()
        from_proj = projected[self.source_rows.clamp(min=0)]
        is_ph = (self.source_rows >= 0)[:, None]
        return torch.where(is_ph, from_proj, flat).reshape(b, t, -1)

    def logits(self):
        """llama_ref.Model.forward, starting from input embeddings instead of ids."""
        m, cfg = self.model, self.model.cfg
        x = self.embeds()
        cos, sin = llama_ref.rope_cos_sin(m.inv_freq, self.position_ids, m.attention_scaling, m.dtype)
        masks = {}
        for i in range(cfg.num_hidden_layers):
            sw = cfg.layer_windows[i]
            if sw not in masks:
                masks[sw] = llama_ref.build_mask(self.attention_mask, sw, m.dtype)
            p = f"model.layers.{i}"
            h = x + m._attention(i, llama_ref.rms_norm(x, m._get(p + ".input_layernorm.weight"), cfg.rms_norm_eps), cos, sin, masks[sw])
            x = h + m._mlp(i, llama_ref.rms_norm(h, m._get(p + ".post_attention_layernorm.weight"), cfg.rms_norm_eps))
        x = llama_ref.rms_norm(x, m._get("model.norm.weight"), cfg.rms_norm_eps)
        head = m._get("model.embed_tokens.weight") if cfg.tie_word_embeddings else m._get("lm_head.weight")
        return F.linear(x, head)

    def loss(self):
        return llama_ref.causal_lm_loss(self.logits(), self.labels)

    def step(self):
        """One optimizer step: forward, backward, clip, AdamW. Returns (loss, grad norm before clipping)."""
        self.opt.zero_grad(set_to_none=True)
        loss = self.loss()
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(list(self.params.values()), self.spec["max_grad_norm"])
        self.opt.step()
        return loss.item(), float(norm)

    def check(self):
        loss0, norm = self.step()
        with torch.no_grad():
            loss1 = self.loss().item()
        return {"loss0": loss0, "loss1": loss1, "grad_norm": norm}

    def time_steps(self, k):
        """Wall seconds and process CPU seconds (all threads) of k steps, one entry per step."""
        wall, cpu = [], []
        for _ in range(k):
            t0, c0 = time.perf_counter(), time.process_time()
            self.step()
            wall.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
        return wall, cpu


def blas_info():
    """Which BLAS torch's matmuls actually run on (Debian switches libblas.so.3 by alternatives)."""
    torch.ones(4, 4) @ torch.ones(4, 4)
    libs = set()
    with open("/proc/self/maps") as f:
        for line in f:
            if "blas" in line:
                libs.add(line.split()[-1])
    return sorted(libs)


def set_threads(n):
    torch.set_num_threads(int(n))


def main(argv):
    ap = argparse.ArgumentParser(description="PyTorch reference for bench/train-step.ts")
    ap.add_argument("folder")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--serve", action="store_true")
    args = ap.parse_args(argv)
    folder = args.folder
    torch.manual_seed(0)
    set_threads(args.threads)
    lmm = TinyLMM(folder)
    info = {"torch": torch.__version__, "blas": blas_info(), "cpus": os.cpu_count()}
    if args.serve:
        print(json.dumps({"ready": True, **info}), flush=True)
        for line in sys.stdin:
            if not line.strip():
                continue
            cmd = json.loads(line)
            if cmd["cmd"] == "quit":
                break
            set_threads(cmd.get("threads", os.cpu_count()))
            if cmd["cmd"] == "check":
                res = lmm.check()
            elif cmd["cmd"] == "time":
                wall, cpu = lmm.time_steps(int(cmd["steps"]))
                res = {"seconds": wall, "cpu_seconds": cpu}
            else:
                res = {"error": f"unknown command {cmd['cmd']!r}"}
            print(json.dumps(res), flush=True)
        return 0
    res = lmm.check()
    secs, cpu = lmm.time_steps(args.steps)
    med = lambda a: sorted(a)[len(a) // 2]  # noqa: E731
    print(json.dumps({**info, **res, "threads": torch.get_num_threads(), "seconds": secs, "median_s": med(secs), "median_cpu_s": med(cpu)}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
