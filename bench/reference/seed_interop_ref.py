#!/usr/bin/env python3
"""
Checkpoint interop with the Python multi_token library (the "seed"), with torch only (no transformers, no peft).

`make` writes a LoRA output folder exactly as the seed's `train_for_modalities` would for a tiny Mistral, and the
outputs a correct loader must reproduce. `accept` runs the seed's loading code path on a folder *we* wrote and
checks that it takes every weight and computes the same model. Both re-create the seed's code, not ours:

  * projectors: `build_patch_mlp_projector` / `_MLPVectorProjector` copied from multi_token/modalities/projectors.py;
  * the model tree: PeftModelForCausalLM(base_model) → LoraModel(model) → MistralLMMForCausalLM(model, lm_head) →
    MistralLMMModel(embed_tokens, layers, norm, <name>_lmm_projector), as small nn.Modules, so that
    `named_parameters()` yields the seed's names (`base_model.model.model.vector_lmm_projector.mlps.0.0.weight`,
    `base_model.model.model.layers.0.self_attn.q_proj.lora_A.default.weight`);
  * LoRA: PEFT's LoraLayer as of peft 0.6 (the seed's era: Dec 2023; `lora_A`/`lora_B` ModuleDicts keyed by
    adapter name, scaling = lora_alpha / r, merge W += B·A·scaling); `_find_all_linear_names` / `make_model_lora`
    from multi_token/model_utils.py, called before the projectors exist, as training.py does;
  * saving: `get_peft_state` + `get_peft_state_non_lora` (model_utils.py, DeepSpeed's maybe_zero_3 reduced to its
    non-ZeRO branch), PEFT 0.6's `get_peft_model_state_dict` (strips `.default`), `torch.save` of plain dicts,
    `adapter_config.json` as PEFT 0.6.2 writes it (json, indent 2, sort_keys; target_modules from a set),
    config.json as `model.config.save_pretrained` writes it (model_type "mistral-lmm", model_cls,
    modality_builder, modalities);
  * loading (`accept`): `load_trained_lora_model` — `torch.load(non_lora_trainables.bin)`,
    `initialize_pretrained_modules` / `_load_projector_weights` (copied: strip `base_model.model.model.`,
    load_state_dict(strict=False), assert no unexpected keys), PEFT's config construction (0.6–0.13 pass every
    adapter_config.json key to `LoraConfig(**kwargs)`, so an unknown key is a TypeError), PEFT 0.6's
    `set_peft_model_state_dict` (re-inserts the adapter name) + load_state_dict(strict=False), `merge_and_unload`.
The LM forward is `llama_ref.py` (imported): HF Mistral semantics on the merged weights.

Usage (driven by bench/reference/make_interop_fixture.ts):
  seed_interop_ref.py make BASE_DIR OUT_DIR SPEC.json       writes the seed folder + OUT_DIR/reference.json
  seed_interop_ref.py accept BASE_DIR OURS_DIR SEED_DIR SPEC.json REFERENCE.json
                                                            prints a JSON report; exit 1 if any check fails
"""

import json
import math
import os
import sys

import torch
import torch.nn as nn
from torch.nn.functional import conv1d

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import llama_ref  # noqa: E402


# ------------------------------------------------------------------- multi_token/modalities/projectors.py (verbatim)


def build_patch_mlp_projector(input_hidden_size: int, lm_hidden_size: int, num_layers: int) -> nn.Module:
    modules = [nn.Linear(input_hidden_size, lm_hidden_size)]
    for _ in range(1, num_layers):
        modules.append(nn.GELU())
        modules.append(nn.Linear(lm_hidden_size, lm_hidden_size))
    return nn.Sequential(*modules)


class _MLPVectorProjector(nn.Module):
    def __init__(self, input_hidden_size: int, lm_hidden_size: int, num_layers: int, width: int):
        super(_MLPVectorProjector, self).__init__()
        self.mlps = nn.ModuleList()
        for _ in range(width):
            mlp = [nn.Linear(input_hidden_size, lm_hidden_size)]
            for _ in range(1, num_layers):
                mlp.append(nn.GELU())
                mlp.append(nn.Linear(lm_hidden_size, lm_hidden_size))
            self.mlps.append(nn.Sequential(*mlp))

    def forward(self, x):
        return torch.cat([mlp(x) for mlp in self.mlps], dim=-2)


def build_mlp_vector_projector(input_hidden_size: int, lm_hidden_size: int, num_layers: int, num_tokens: int):
    return _MLPVectorProjector(input_hidden_size, lm_hidden_size, num_layers, num_tokens)


class VectorModality:
    """The seed's lunar-lander style modality (README): float vectors → `num_tokens` LM tokens."""

    def __init__(self, spec):
        self.name = spec["name"]
        self.token = spec["token"]
        self.dim = spec["dim"]
        self.num_tokens = spec["num_tokens"]
        self.layers = spec["layers"]

    @property
    def token_width(self):
        return self.num_tokens

    @property
    def token_idx(self):
        # base_modality.Modality.token_idx
        hash_ = sum(ord(c) ** i for i, c in enumerate(self.token))
        return -abs(hash_ % 10_000)

    def build_projector(self, lm_hidden_size):
        return build_mlp_vector_projector(self.dim, lm_hidden_size, self.layers, self.num_tokens)


class PatchModality(VectorModality):
    """A second, patch-style projector (vision_clip's build_patch_mlp_projector), exercised for key layout only."""

    def build_projector(self, lm_hidden_size):
        return build_patch_mlp_projector(self.dim, lm_hidden_size, self.layers)


# ------------------------------------------------------------------------------------- the seed's model tree


class RMSNormParams(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n))


class Attn(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, hd = c["hidden_size"], c["hidden_size"] // c["num_attention_heads"]
        kv = c.get("num_key_value_heads") or c["num_attention_heads"]
        self.q_proj = nn.Linear(d, c["num_attention_heads"] * hd, bias=False)
        self.k_proj = nn.Linear(d, kv * hd, bias=False)
        self.v_proj = nn.Linear(d, kv * hd, bias=False)
        self.o_proj = nn.Linear(c["num_attention_heads"] * hd, d, bias=False)


class MLP(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, f = c["hidden_size"], c["intermediate_size"]
        self.gate_proj = nn.Linear(d, f, bias=False)
        self.up_proj = nn.Linear(d, f, bias=False)
        self.down_proj = nn.Linear(f, d, bias=False)


class DecoderLayer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.self_attn = Attn(c)
        self.mlp = MLP(c)
        self.input_layernorm = RMSNormParams(c["hidden_size"])
        self.post_attention_layernorm = RMSNormParams(c["hidden_size"])


class MistralLMMModel(nn.Module):
    """MistralModel + LMMMetaModel (language_models/base_model.py): projectors are attributes of this module."""

    def __init__(self, c):
        super().__init__()
        self.embed_tokens = nn.Embedding(c["vocab_size"], c["hidden_size"])
        self.layers = nn.ModuleList([DecoderLayer(c) for _ in range(c["num_hidden_layers"])])
        self.norm = RMSNormParams(c["hidden_size"])

    # ---- LMMMetaModel, verbatim apart from logging
    def _load_projector_weights(self, weights):
        weights = {(k[23:] if k.startswith("base_model.model.model.") else k): v for k, v in weights.items()}
        load_result = self.load_state_dict(weights, strict=False)
        assert len(load_result.unexpected_keys) == 0, "Unexpected weights, is this the right model?"
        return load_result

    def initialize_pretrained_modules(self, modalities, weights):
        for m in modalities:
            projector = m.build_projector(self.config_hidden)
            setattr(self, m.name + "_lmm_projector", projector)
        return self._load_projector_weights(weights)

    def initialize_modules(self, modalities, weights):
        for m in modalities:
            projector = m.build_projector(self.config_hidden)
            setattr(self, m.name + "_lmm_projector", projector)
        return self._load_projector_weights(weights)


class MistralLMMForCausalLM(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.model = MistralLMMModel(c)
        self.model.config_hidden = c["hidden_size"]
        self.lm_head = nn.Linear(c["hidden_size"], c["vocab_size"], bias=False)

    def get_model(self):
        return self.model


class LoraModel(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model


class PeftModelForCausalLM(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.base_model = LoraModel(model)

    def get_model(self):
        return self.base_model.model.get_model()


def build_causal_lm(config, weights):
    """MistralLMMForCausalLM.from_pretrained(base): HF names → this tree, all frozen after load."""
    lm = MistralLMMForCausalLM(config)
    own = dict(lm.named_parameters())
    missing = set(own) - set(weights)
    extra = set(weights) - set(own)
    if missing or extra:
        raise SystemExit(f"base model.safetensors does not fit the Mistral tree: missing {missing}, extra {extra}")
    with torch.no_grad():
        for k, p in own.items():
            p.copy_(weights[k])
    return lm


# -------------------------------------------------------------------------------------------- PEFT (0.6) LoRA


class LoraLinear(nn.Linear):
    """peft/tuners/lora/layer.py Linear (0.6): the base weight stays `weight`; adapters live in ModuleDicts."""

    def __init__(self, base: nn.Linear, adapter_name, r, lora_alpha):
        super().__init__(base.in_features, base.out_features, bias=base.bias is not None)
        with torch.no_grad():
            self.weight.copy_(base.weight)
        self.weight.requires_grad = False
        self.lora_A = nn.ModuleDict({adapter_name: nn.Linear(base.in_features, r, bias=False)})
        self.lora_B = nn.ModuleDict({adapter_name: nn.Linear(r, base.out_features, bias=False)})
        self.scaling = {adapter_name: lora_alpha / r}
        # reset_lora_parameters: A kaiming-uniform(a=sqrt(5)), B zero
        nn.init.kaiming_uniform_(self.lora_A[adapter_name].weight, a=math.sqrt(5))
        nn.init.zeros_(self.lora_B[adapter_name].weight)

    def merge(self, adapter_name="default"):
        with torch.no_grad():
            delta = (self.lora_B[adapter_name].weight @ self.lora_A[adapter_name].weight) * self.scaling[adapter_name]
            self.weight.data += delta


def _find_all_linear_names(model):
    # multi_token/model_utils.py, verbatim
    cls = torch.nn.Linear
    lora_module_names = set()
    for name, module in model.named_modules():
        if isinstance(module, cls):
            names = name.split(".")
            lora_module_names.add(names[0] if len(names) == 1 else names[-1])
    if "lm_head" in lora_module_names:
        lora_module_names.remove("lm_head")
    return list(lora_module_names)


def _target_matches(key, targets):
    # PEFT check_target_module_exists for a list of names
    return any(key == t or key.endswith("." + t) for t in targets)


def get_peft_model(model, r, lora_alpha, target_modules, adapter_name="default"):
    """PEFT's get_peft_model for LoRA: wrap matching Linears, freeze everything but lora_ (bias "none")."""
    peft = PeftModelForCausalLM(model)
    for p in peft.parameters():
        p.requires_grad = False
    found = 0
    for name, module in list(model.named_modules()):
        if isinstance(module, nn.Linear) and not isinstance(module, LoraLinear) and _target_matches(name, target_modules):
            parent = model.get_submodule(name.rsplit(".", 1)[0]) if "." in name else model
            setattr(parent, name.rsplit(".", 1)[-1], LoraLinear(module, adapter_name, r, lora_alpha))
            found += 1
    if not found:
        raise SystemExit(f"target modules {target_modules} not found")
    return peft


def merge_and_unload(peft):
    for m in peft.modules():
        if isinstance(m, LoraLinear):
            m.merge()
    return peft.base_model.model


# ----------------------------------------------------------------------------------- saving, as the seed does


def maybe_zero_3(param):
    return param.detach().cpu().clone()


def get_peft_state(named_params, bias):
    # model_utils.get_peft_state, bias "none"
    assert bias == "none"
    to_return = {k: t for k, t in named_params if "lora_" in k}
    return {k: maybe_zero_3(v) for k, v in to_return.items()}


def get_peft_state_non_lora(named_params):
    # model_utils.get_peft_state_non_lora, verbatim apart from maybe_zero_3
    to_return = {k: t for k, t in named_params if "lora_" not in k and (t.requires_grad or "_lmm_projector" in k)}
    return {k: maybe_zero_3(v).cpu() for k, v in to_return.items()}


def get_peft_model_state_dict(state_dict, adapter_name="default"):
    # peft 0.6 utils/save_and_load.py, LORA with bias "none"
    to_return = {k: state_dict[k] for k in state_dict if "lora_" in k}
    to_return = {k: v for k, v in to_return.items() if (("lora_" in k and adapter_name in k) or ("bias" in k))}
    return {k.replace(f".{adapter_name}", ""): v for k, v in to_return.items()}


def set_peft_model_state_dict(model, peft_model_state_dict, adapter_name="default"):
    # peft 0.6 utils/save_and_load.py, LORA
    out = {}
    for k, v in peft_model_state_dict.items():
        if "lora_" in k:
            suffix = k.split("lora_")[1]
            if "." in suffix:
                suffix_to_replace = ".".join(suffix.split(".")[1:])
                k = k.replace(suffix_to_replace, f"{adapter_name}.{suffix_to_replace}")
            else:
                k = f"{k}.{adapter_name}"
        out[k] = v
    return model.load_state_dict(out, strict=False), out


# PEFT 0.6.0 – 0.13.x build the config with `LoraConfig(**json)`: a key outside these fields is a TypeError.
# Fields of PeftConfigMixin + PeftConfig + LoraConfig in peft v0.6.2 (the release current when the seed was
# written; 0.7 adds only megatron_config, megatron_core, loftq_config; 0.8 use_rslora; 0.9 use_dora).
PEFT_062_LORA_FIELDS = {
    "peft_type", "auto_mapping", "base_model_name_or_path", "revision", "task_type", "inference_mode",
    "r", "target_modules", "lora_alpha", "lora_dropout", "fan_in_fan_out", "bias", "modules_to_save",
    "init_lora_weights", "layers_to_transform", "layers_pattern", "rank_pattern", "alpha_pattern",
}
PEFT_071_LORA_FIELDS = PEFT_062_LORA_FIELDS | {"megatron_config", "megatron_core", "loftq_config"}


def peft_062_adapter_config(r, lora_alpha, lora_dropout, target_modules, base_model):
    """asdict(LoraConfig) of peft 0.6.2 after save_pretrained (inference_mode True, sets → lists)."""
    return {
        "alpha_pattern": {},
        "auto_mapping": None,
        "base_model_name_or_path": base_model,
        "bias": "none",
        "fan_in_fan_out": False,
        "inference_mode": True,
        "init_lora_weights": True,
        "layers_pattern": None,
        "layers_to_transform": None,
        "lora_alpha": lora_alpha,
        "lora_dropout": lora_dropout,
        "modules_to_save": None,
        "peft_type": "LORA",
        "r": r,
        "rank_pattern": {},
        "revision": None,
        "target_modules": list(set(target_modules)),
        "task_type": "CAUSAL_LM",
    }


# ------------------------------------------------------------------------------------------------- forward


def merged_hf_weights(causal_lm):
    """HF-named LM weights of a merged MistralLMMForCausalLM (projectors left out)."""
    return {k: v.detach().clone() for k, v in causal_lm.state_dict().items() if "_lmm_projector" not in k}


def lm_logits(config, weights, input_ids=None, inputs_embeds=None):
    """llama_ref's forward; inputs_embeds go in as extra embedding rows (untied head, so logits are unchanged)."""
    cfg = llama_ref.Config(config)
    if inputs_embeds is None:
        model = llama_ref.Model(cfg, weights)
        ids = torch.tensor(input_ids, dtype=torch.long)
    else:
        assert not cfg.tie_word_embeddings
        b, t, d = inputs_embeds.shape
        w = dict(weights)
        w["model.embed_tokens.weight"] = torch.cat([weights["model.embed_tokens.weight"], inputs_embeds.reshape(b * t, d)])
        model = llama_ref.Model(cfg, w)
        ids = (config["vocab_size"] + torch.arange(b * t)).view(b, t)
    mask = torch.ones_like(ids)
    with torch.no_grad():
        return model.forward(ids, mask, llama_ref.default_position_ids(mask))


def seed_inputs_embeds(inner, modality, input_ids, vectors):
    """LMMMetaForCausalLM.prepare_inputs_labels_for_multimodal for one modality, verbatim in substance."""
    input_ids = torch.tensor(input_ids, dtype=torch.long)
    batch_size, seq_len = input_ids.shape
    hidden = inner.embed_tokens.weight.shape[1]
    inputs_embeds = torch.zeros((batch_size, seq_len, hidden), dtype=torch.float32)
    proj = getattr(inner, modality.name + "_lmm_projector")
    with torch.no_grad():
        # m.forward: one [items, 1, dim] tensor per row
        projected = [proj(torch.tensor(v, dtype=torch.float32).view(-1, 1, modality.dim)) for v in vectors]
        for i, input_ids_sample in enumerate(input_ids):
            is_text_mask = input_ids_sample >= 0
            inputs_embeds[i, is_text_mask] = inner.embed_tokens(input_ids_sample[is_text_mask])
            m_mask = (input_ids_sample == modality.token_idx).float()
            m_kernel = torch.tensor([-1] * modality.token_width, dtype=m_mask.dtype)
            m_conv = conv1d(m_mask.unsqueeze(0).unsqueeze(0), m_kernel.unsqueeze(0).unsqueeze(0))
            indices = (m_conv[0, 0] == -modality.token_width).nonzero(as_tuple=True)[0]
            last_covered_idx = -1
            k = 0
            for possible_token_idx in indices:
                if possible_token_idx <= last_covered_idx:
                    continue
                inputs_embeds[i, possible_token_idx : possible_token_idx + modality.token_width] = projected[i][k]
                last_covered_idx = possible_token_idx + modality.token_width - 1
                k += 1
            assert k == len(vectors[i]), f"row {i}: placed {k} of {len(vectors[i])} items"
    return inputs_embeds


def to_seed_ids(ids, placeholder_id, modality):
    """Our placeholders (-(modality index + 1)) → the seed's Modality.token_idx."""
    return [[modality.token_idx if t == placeholder_id else t for t in row] for row in ids]


def expected_outputs(spec, config, inner, modality, merged):
    with torch.no_grad():
        proj = getattr(inner, modality.name + "_lmm_projector")
        x = torch.tensor(spec["projector_inputs"], dtype=torch.float32).view(-1, 1, modality.dim)
        proj_out = proj(x)
    text_logits = lm_logits(config, merged, input_ids=spec["text_ids"])
    mm = spec["mm"]
    embeds = seed_inputs_embeds(inner, modality, to_seed_ids(mm["input_ids"], mm["placeholder_id"], modality), mm["vectors"])
    mm_logits = lm_logits(config, merged, inputs_embeds=embeds)
    return proj_out, text_logits, mm_logits


# ------------------------------------------------------------------------------------------------ commands


def read_base(base_dir):
    with open(os.path.join(base_dir, "config.json")) as f:
        config = json.load(f)
    assert config["model_type"] == "mistral", "the seed's only LM class is MistralLMMForCausalLM"
    return config, llama_ref.load_safetensors(os.path.join(base_dir, "model.safetensors"))


def cmd_make(base_dir, out_dir, spec_path):
    with open(spec_path) as f:
        spec = json.load(f)
    config, weights = read_base(base_dir)
    modality = VectorModality(spec["modality"])
    lora = spec["lora"]
    torch.manual_seed(spec["seed"])

    # training.py: from_pretrained → config fields → make_model_lora → initialize_modules
    model = build_causal_lm(config, weights)
    targets = _find_all_linear_names(model)
    peft = get_peft_model(model, lora["r"], lora["alpha"], targets)
    peft.get_model().initialize_modules([modality], {})
    # "training": LoRA B and A move away from their init; projectors keep their (random) nn.Linear init
    with torch.no_grad():
        for name, p in peft.named_parameters():
            if "lora_B" in name:
                p.normal_(0.0, lora["b_std"])
            elif "lora_A" in name:
                p.add_(torch.randn_like(p) * 0.02)
    for name, p in peft.named_parameters():
        assert p.requires_grad == ("lora_" in name or "_lmm_projector" in name), name

    os.makedirs(out_dir, exist_ok=True)
    # trainer end of train_for_modalities
    seed_cfg = dict(config)
    seed_cfg.update(
        {
            "_name_or_path": spec["base_model_name"],
            "architectures": ["MistralLMMForCausalLM"],
            "model_type": "mistral-lmm",
            "model_cls": "MistralLMMForCausalLM",
            "modality_builder": spec["modality_builder"],
            "modalities": [modality.name],
            "use_cache": True,
        }
    )
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        f.write(json.dumps(seed_cfg, indent=2, sort_keys=True) + "\n")
    state_dict = get_peft_state(peft.named_parameters(), "none")
    adapter = get_peft_model_state_dict(state_dict)
    torch.save(adapter, os.path.join(out_dir, "adapter_model.bin"))
    with open(os.path.join(out_dir, "adapter_config.json"), "w") as f:
        f.write(
            json.dumps(
                peft_062_adapter_config(lora["r"], lora["alpha"], lora["dropout"], targets, spec["base_model_name"]),
                indent=2,
                sort_keys=True,
            )
        )
    non_lora = get_peft_state_non_lora(peft.named_parameters())
    assert non_lora and all("_lmm_projector" in k for k in non_lora), list(non_lora)
    torch.save(non_lora, os.path.join(out_dir, "non_lora_trainables.bin"))

    # A patch projector's key layout too (vision_clip's builder), written beside the fixture for the key test.
    patch = PatchModality(spec["patch_modality"])
    peft.get_model().initialize_modules([patch], {})
    patch_sd = {k: v for k, v in get_peft_state_non_lora(peft.named_parameters()).items() if patch.name in k}

    # expected outputs: PeftModel.from_pretrained + merge_and_unload, in float32
    inner = peft.get_model()
    merged = merged_hf_weights(merge_and_unload(peft))
    proj_out, text_logits, mm_logits = expected_outputs(spec, config, inner, modality, merged)
    ref = {
        "projector_outputs": proj_out.double().tolist(),
        "text_logits": text_logits.double().tolist(),
        "mm_logits": mm_logits.double().tolist(),
        "mm_seed_input_ids": to_seed_ids(spec["mm"]["input_ids"], spec["mm"]["placeholder_id"], modality),
        "target_modules": targets,
        "non_lora_keys": {k: list(v.shape) for k, v in non_lora.items()},
        "adapter_keys": {k: list(v.shape) for k, v in adapter.items()},
        "patch_projector_keys": {k: list(v.shape) for k, v in patch_sd.items()},
        "torch_version": torch.__version__,
    }
    with open(os.path.join(out_dir, "reference.json"), "w") as f:
        json.dump(ref, f)


def cmd_accept(base_dir, ours_dir, seed_dir, spec_path, ref_path):
    with open(spec_path) as f:
        spec = json.load(f)
    with open(ref_path) as f:
        ref = json.load(f)
    config, weights = read_base(base_dir)
    modality = VectorModality(spec["modality"])
    checks = []

    def check(name, ok, detail=""):
        checks.append({"check": name, "ok": bool(ok), "detail": detail})

    # config.json: AutoConfig + LANGUAGE_MODEL_NAME_TO_CLASS[cfg.model_cls] + MODALITY_BUILDERS[cfg.modality_builder]
    with open(os.path.join(ours_dir, "config.json")) as f:
        cfg = json.load(f)
    check("config.json model_type is one AutoConfig knows (mistral / mistral-lmm)", cfg.get("model_type") in ("mistral", "mistral-lmm"), cfg.get("model_type"))
    check("config.json model_cls names the seed's class", cfg.get("model_cls") == "MistralLMMForCausalLM", cfg.get("model_cls"))
    check("config.json modality_builder / modalities", cfg.get("modality_builder") == spec["modality_builder"] and cfg.get("modalities") == [modality.name], f'{cfg.get("modality_builder")} {cfg.get("modalities")}')
    for k in ("hidden_size", "num_hidden_layers", "vocab_size", "intermediate_size", "num_attention_heads", "num_key_value_heads"):
        check(f"config.json {k} equals the base's", cfg.get(k) == config[k], f"{cfg.get(k)} vs {config[k]}")

    # load_trained_lora_model: from_pretrained(base) → torch.load(non_lora) → initialize_pretrained_modules
    results = {}
    for label, folder in (("seed", seed_dir), ("ours", ours_dir)):
        path = os.path.join(folder, "non_lora_trainables.bin")
        non_lora = torch.load(path, map_location="cpu")
        try:
            torch.load(path, map_location="cpu", weights_only=True)
            check(f"{label}: non_lora_trainables.bin loads with torch.load(weights_only=True)", True)
        except TypeError:  # torch without weights_only
            pass
        except Exception as e:  # noqa: BLE001
            check(f"{label}: non_lora_trainables.bin loads with torch.load(weights_only=True)", False, repr(e))
        model = build_causal_lm(config, weights)
        try:
            load_result = model.get_model().initialize_pretrained_modules([modality], non_lora)
            check(f"{label}: _load_projector_weights accepts non_lora_trainables.bin (no unexpected keys)", True)
        except AssertionError as e:
            check(f"{label}: _load_projector_weights accepts non_lora_trainables.bin (no unexpected keys)", False, str(e))
            continue
        proj_missing = [k for k in load_result.missing_keys if "_lmm_projector" in k]
        check(f"{label}: every projector weight was loaded", not proj_missing, str(proj_missing))
        check(
            f"{label}: non_lora_trainables.bin keys/shapes are the seed's",
            {k: list(v.shape) for k, v in non_lora.items()} == ref["non_lora_keys"],
            f"{len(non_lora)} keys",
        )

        # PeftModel.from_pretrained(model, lora_dir): config, weights, then merge_and_unload
        with open(os.path.join(folder, "adapter_config.json")) as f:
            acfg = json.load(f)
        for ver, fields in (("0.6.2", PEFT_062_LORA_FIELDS), ("0.7.1", PEFT_071_LORA_FIELDS)):
            unknown = sorted(set(acfg) - fields)
            check(f"{label}: adapter_config.json builds LoraConfig(**json) in peft {ver}", not unknown, f"unknown keys {unknown}" if unknown else "")
        check(f"{label}: adapter_config.json peft_type/task_type/bias", acfg.get("peft_type") == "LORA" and acfg.get("task_type") == "CAUSAL_LM" and acfg.get("bias") == "none", "")
        st = os.path.join(folder, "adapter_model.safetensors")
        adapter = llama_ref.load_safetensors(st) if os.path.exists(st) else torch.load(os.path.join(folder, "adapter_model.bin"), map_location="cpu")
        check(f"{label}: adapter keys/shapes are PEFT's", {k: list(v.shape) for k, v in adapter.items()} == ref["adapter_keys"], f"{len(adapter)} keys")
        peft = get_peft_model(model, acfg["r"], acfg["lora_alpha"], acfg["target_modules"])
        load_result, renamed = set_peft_model_state_dict(peft, adapter)
        lora_params = {k for k, _ in peft.named_parameters() if "lora_" in k}
        check(f"{label}: set_peft_model_state_dict: no unexpected keys", not load_result.unexpected_keys, str(load_result.unexpected_keys))
        check(f"{label}: every LoRA parameter of the model was loaded", lora_params <= set(renamed), str(sorted(lora_params - set(renamed))))

        inner = peft.get_model()
        merged = merged_hf_weights(merge_and_unload(peft))
        proj_out, text_logits, mm_logits = expected_outputs(spec, config, inner, modality, merged)
        d_proj = (proj_out.double() - torch.tensor(ref["projector_outputs"], dtype=torch.float64)).abs().max().item()
        d_text = (text_logits.double() - torch.tensor(ref["text_logits"], dtype=torch.float64)).abs().max().item()
        d_mm = (mm_logits.double() - torch.tensor(ref["mm_logits"], dtype=torch.float64)).abs().max().item()
        check(f"{label}: projector outputs after loading equal the reference", d_proj < 1e-6, f"max |diff| {d_proj:.3g}")
        check(f"{label}: merged text logits equal the reference", d_text < 1e-5, f"max |diff| {d_text:.3g}")
        check(f"{label}: merged multimodal logits equal the reference", d_mm < 1e-5, f"max |diff| {d_mm:.3g}")
        results[label] = {"d_proj": d_proj, "d_text": d_text, "d_mm": d_mm}

    ok = all(c["ok"] for c in checks)
    print(json.dumps({"ok": ok, "torch": torch.__version__, "checks": checks}, indent=1))
    return 0 if ok else 1


def main(argv):
    if len(argv) >= 1 and argv[0] == "make" and len(argv) == 4:
        cmd_make(*argv[1:])
        return 0
    if len(argv) >= 1 and argv[0] == "accept" and len(argv) == 6:
        return cmd_accept(*argv[1:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
