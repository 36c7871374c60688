import { tf, type Tensor } from '../tf.js';
import { Rng } from '../util/rng.js';
import { architectureFor, parseLlamaConfig, type LlamaConfig } from '../lm/config.js';

export type TinyArch = 'llama' | 'mistral' | 'qwen2';

export interface TinyLlamaOptions {
  arch: TinyArch;
  vocabSize: number;
  hiddenSize?: number;
  intermediateSize?: number;
  numHiddenLayers?: number;
  numAttentionHeads?: number;
  numKeyValueHeads?: number;
  maxPositionEmbeddings?: number;
  bosTokenId?: number | null;
  eosTokenId: number;
  padTokenId?: number | null;
  tieWordEmbeddings?: boolean;
  /** Extra fields merged into config.json (e.g. rope_scaling). */
  extra?: Record<string, unknown>;
}

/**
 * A `config.json` for a tiny model of the given architecture, with the fields and defaults the real
 * checkpoints of that family carry (Mistral's sliding window, Qwen2's biases implied by its model_type, …).
 */
export function tinyLlamaConfigJSON(o: TinyLlamaOptions): Record<string, unknown> {
  const base: Record<string, unknown> = {
    architectures: [architectureFor(o.arch)],
    model_type: o.arch,
    vocab_size: o.vocabSize,
    hidden_size: o.hiddenSize ?? 64,
    intermediate_size: o.intermediateSize ?? 128,
    num_hidden_layers: o.numHiddenLayers ?? 2,
    num_attention_heads: o.numAttentionHeads ?? 4,
    num_key_value_heads: o.numKeyValueHeads ?? 2,
    hidden_act: 'silu',
    max_position_embeddings: o.maxPositionEmbeddings ?? 2048,
    rms_norm_eps: 1e-6,
    rope_theta: o.arch === 'qwen2' ? 1000000 : 10000,
    rope_scaling: null,
    tie_word_embeddings: o.tieWordEmbeddings ?? o.arch === 'qwen2',
    bos_token_id: o.bosTokenId ?? null,
    eos_token_id: o.eosTokenId,
    pad_token_id: o.padTokenId ?? null,
    torch_dtype: 'float32',
    use_cache: true,
    transformers_version: '4.44.0',
  };
  if (o.arch === 'llama') Object.assign(base, { attention_bias: false, mlp_bias: false, pretraining_tp: 1 });
  if (o.arch === 'mistral') Object.assign(base, { sliding_window: 4096 });
  if (o.arch === 'qwen2') Object.assign(base, { use_sliding_window: false, sliding_window: 4096, max_window_layers: 2 });
  return { ...base, ...(o.extra ?? {}) };
}

/**
 * Random weights with Hugging Face names for a Llama-family config: normal(0, std) matrices, unit norms,
 * deterministic from `seed`. The default std is larger than HF's 0.02 so that a tiny random model produces
 * varied (not constant) greedy text, which makes decoding tests meaningful.
 */
export function randomLlamaWeights(config: LlamaConfig, seed: number, std = 0.2): Map<string, Tensor> {
  const rng = new Rng(seed);
  const w = new Map<string, Tensor>();
  const normal = (shape: number[], scale = std) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = rng.normal() * scale;
    return tf.tensor(a, shape);
  };
  const onesT = (n: number) => tf.ones([n]);
  const { hiddenSize: d, intermediateSize: f, numAttentionHeads: h, numKeyValueHeads: kvh, headDim: hd } = config;
  w.set('model.embed_tokens.weight', normal([config.vocabSize, d], config.tieWordEmbeddings ? 0.3 : 1));
  for (let i = 0; i < config.numHiddenLayers; i++) {
    const p = `model.layers.${i}`;
    const proj = (name: string, out: number, inp: number, bias: boolean) => {
      w.set(`${p}.${name}.weight`, normal([out, inp], std / Math.sqrt(inp / 16)));
      if (bias) w.set(`${p}.${name}.bias`, normal([out], std));
    };
    proj('self_attn.q_proj', h * hd, d, config.qkvBias);
    proj('self_attn.k_proj', kvh * hd, d, config.qkvBias);
    proj('self_attn.v_proj', kvh * hd, d, config.qkvBias);
    proj('self_attn.o_proj', d, h * hd, config.oBias);
    proj('mlp.gate_proj', f, d, config.mlpBias);
    proj('mlp.up_proj', f, d, config.mlpBias);
    proj('mlp.down_proj', d, f, config.mlpBias);
    w.set(`${p}.input_layernorm.weight`, onesT(d));
    w.set(`${p}.post_attention_layernorm.weight`, onesT(d));
  }
  w.set('model.norm.weight', onesT(d));
  if (!config.tieWordEmbeddings) w.set('lm_head.weight', normal([config.vocabSize, d], std / Math.sqrt(d / 16)));
  return w;
}

/** A `WeightGetter` over an in-memory map, with the same shape checks as the file-backed store. */
export function mapWeights(m: Map<string, Tensor>): { get(n: string, s?: number[]): Tensor; has(n: string): boolean } {
  return {
    has: (n) => m.has(n),
    get: (n, s) => {
      const t = m.get(n);
      if (!t) throw new Error(`missing weight "${n}"`);
      if (s && (t.shape.length !== s.length || t.shape.some((x, i) => x !== s[i]))) {
        throw new Error(`weight "${n}" has shape [${t.shape}], expected [${s}]`);
      }
      return t;
    },
  };
}

/** Convenience for tests: a parsed config plus random weights. */
export function tinyLlama(o: TinyLlamaOptions, seed = 0): { config: LlamaConfig; weights: Map<string, Tensor> } {
  const config = parseLlamaConfig(tinyLlamaConfigJSON(o));
  return { config, weights: randomLlamaWeights(config, seed) };
}
