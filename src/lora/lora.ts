import { tf, type Tensor } from '../tf.js';
import type { Linear } from '../nn/linear.js';
import { Rng } from '../util/rng.js';
import { LoraAdapter } from './lora-linear.js';

/** LoRA settings, named as in PEFT's `LoraConfig` / `adapter_config.json`. */
export interface LoraConfig {
  r: number;
  loraAlpha: number;
  loraDropout: number;
  /** Module name suffixes, e.g. ['q_proj', 'v_proj']; PEFT matches `name == t or name.endsWith('.' + t)`. */
  targetModules: string[];
}

/** All linear layers of a Llama block, what the seed targets (`_find_all_linear_names` minus lm_head). */
export const ALL_LINEAR_TARGETS = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'];
export const ATTENTION_TARGETS = ['q_proj', 'k_proj', 'v_proj', 'o_proj'];

/** PEFT stores LoRA weights under the wrapped model's path: `base_model.model.<module>.lora_A.weight`. */
export const PEFT_PREFIX = 'base_model.model.';

function matches(name: string, targets: string[]): boolean {
  return targets.some((t) => name === t || name.endsWith(`.${t}`));
}

/** Anything with named linear layers (the LM: `model.layers.0.self_attn.q_proj`, …). */
export interface HasLinears {
  linears(): Map<string, Linear>;
}

/**
 * Attaches fresh adapters to every matching linear layer; returns them by module name. Throws when nothing
 * matches (a typo in target_modules would otherwise train nothing).
 */
export function applyLora(model: HasLinears, config: LoraConfig, seed: number | Rng = 0): Map<string, LoraAdapter> {
  // One generator for init and for every adapter's dropout masks, so a trainer can checkpoint its state.
  const rng = typeof seed === 'number' ? new Rng(seed) : seed;
  const out = new Map<string, LoraAdapter>();
  for (const [name, layer] of model.linears()) {
    if (!matches(name, config.targetModules)) continue;
    if (layer.adapter) throw new Error(`${name} already has an adapter`);
    const a = LoraAdapter.init(layer, config.r, config.loraAlpha, config.loraDropout, rng);
    layer.adapter = a;
    out.set(name, a);
  }
  if (out.size === 0) throw new Error(`LoRA target_modules ${JSON.stringify(config.targetModules)} match no layer`);
  return out;
}

/** LoRA parameters under PEFT's names (`base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight`). */
export function loraParameters(adapters: Map<string, LoraAdapter>): Map<string, tf.Variable> {
  const m = new Map<string, tf.Variable>();
  for (const [name, a] of adapters) {
    m.set(`${PEFT_PREFIX}${name}.lora_A.weight`, a.A);
    m.set(`${PEFT_PREFIX}${name}.lora_B.weight`, a.B);
  }
  return m;
}

/**
 * Attaches adapters from PEFT weights (`adapter_model.safetensors` / `.bin`). Accepts keys with or without the
 * `.default` adapter name that older PEFT versions wrote; every adapter key must find its layer.
 */
export function loadLoraWeights(
  model: HasLinears,
  config: LoraConfig,
  weights: Map<string, Tensor>,
  location = 'adapter_model',
): Map<string, LoraAdapter> {
  const linears = model.linears();
  const pairs = new Map<string, { A?: Tensor; B?: Tensor }>();
  for (const [key, t] of weights) {
    const m = /^(?:base_model\.model\.)?(.+)\.lora_([AB])(?:\.default)?\.weight$/.exec(key);
    if (!m) {
      if (/lora_embedding|\.bias$/.test(key)) throw new Error(`${location}: "${key}" is not supported (LoRA on linear weights only)`);
      continue;
    }
    const p = pairs.get(m[1]) ?? {};
    p[m[2] as 'A' | 'B'] = t;
    pairs.set(m[1], p);
  }
  const out = new Map<string, LoraAdapter>();
  for (const [name, { A, B }] of pairs) {
    const layer = linears.get(name);
    if (!layer) throw new Error(`${location}: adapter for "${name}", which the model does not have`);
    if (!A || !B) throw new Error(`${location}: "${name}" has lora_${A ? 'A' : 'B'} but not lora_${A ? 'B' : 'A'}`);
    if (A.shape[1] !== layer.inFeatures || B.shape[0] !== layer.outFeatures || A.shape[0] !== B.shape[1]) {
      throw new Error(`${location}: "${name}" LoRA shapes A [${A.shape}] B [${B.shape}] do not fit layer [${layer.outFeatures}, ${layer.inFeatures}]`);
    }
    const a = new LoraAdapter(A, B, config.loraAlpha, config.loraDropout, new Rng(0));
    layer.adapter = a;
    out.set(name, a);
  }
  if (out.size === 0) throw new Error(`${location}: no LoRA weights found`);
  return out;
}

/**
 * Folds every adapter into its base weight (`W += scale·B·A`) and removes it: faster inference. Adapters on
 * weights the engine holds (`--dtype f16|int8|int4`, see frozen-weight.ts) stay separate, as QLoRA serves them:
 * folding would need the float weight back. Returns how many were folded.
 */
export function mergeLora(model: HasLinears): number {
  let n = 0;
  for (const layer of model.linears().values()) {
    const a = layer.adapter;
    if (!(a instanceof LoraAdapter) || layer.frozen) continue;
    const merged = tf.tidy(() => tf.add(layer.weight, a.delta()));
    layer.weight.assign(merged);
    merged.dispose();
    a.dispose();
    layer.adapter = null;
    n++;
  }
  return n;
}

/** `adapter_config.json` contents as PEFT writes them, limited to the keys every PEFT ≥ 0.6 accepts. */
export function peftAdapterConfig(config: LoraConfig, baseModel: string): Record<string, unknown> {
  return {
    peft_type: 'LORA',
    task_type: 'CAUSAL_LM',
    base_model_name_or_path: baseModel,
    r: config.r,
    lora_alpha: config.loraAlpha,
    lora_dropout: config.loraDropout,
    target_modules: [...config.targetModules].sort(),
    bias: 'none',
    fan_in_fan_out: false,
    inference_mode: true,
    init_lora_weights: true,
    modules_to_save: null,
    layers_to_transform: null,
    layers_pattern: null,
    rank_pattern: {},
    alpha_pattern: {},
    // No use_rslora / use_dora (false = the default): peft 0.6–0.13 build LoraConfig(**json) and raise
    // TypeError on keys they do not know (use_rslora came in 0.8, use_dora in 0.9); the seed's era is 0.6/0.7.
    revision: null,
  };
}

/** Reads PEFT's `adapter_config.json`, refusing settings we do not implement rather than mis-loading them. */
export function parsePeftAdapterConfig(raw: Record<string, unknown>, location = 'adapter_config.json'): LoraConfig & { baseModel: string | null } {
  if (raw.peft_type !== undefined && raw.peft_type !== 'LORA') throw new Error(`${location}: peft_type ${raw.peft_type} is not supported (LORA only)`);
  if (raw.use_dora === true) throw new Error(`${location}: DoRA adapters are not supported`);
  if (raw.use_rslora === true) throw new Error(`${location}: rsLoRA scaling is not supported`);
  if (raw.fan_in_fan_out === true) throw new Error(`${location}: fan_in_fan_out adapters (GPT-2 Conv1D) are not supported`);
  const r = Number(raw.r);
  const alpha = Number(raw.lora_alpha ?? r);
  if (!Number.isFinite(r) || r <= 0) throw new Error(`${location}: "r" must be a positive number`);
  let targets = raw.target_modules;
  if (typeof targets === 'string') targets = [targets];
  if (!Array.isArray(targets)) throw new Error(`${location}: "target_modules" must be a list`);
  return {
    r,
    loraAlpha: alpha,
    loraDropout: Number(raw.lora_dropout ?? 0),
    targetModules: targets.map(String),
    baseModel: typeof raw.base_model_name_or_path === 'string' ? raw.base_model_name_or_path : null,
  };
}
