import { tf, type Tensor } from '../tf.js';
import { Linear } from '../nn/linear.js';
import { RMSNorm } from '../nn/norms.js';
import type { LlamaConfig } from './config.js';
import { ropeCosSin, ropeInverseFrequencies } from './rope.js';
import { LlamaAttention } from './attention.js';
import { LlamaDecoderLayer, LlamaMLP } from './decoder-layer.js';
import { buildAttentionMask, positionsFromMask } from './attention-mask.js';
import { KVCache } from './kv-cache.js';
import { frozenMatMul, type FrozenWeight } from '../nn/frozen-weight.js';

/** The subset of `WeightStore` (src/io/weights.ts) the loader needs. */
export interface WeightGetter {
  get(name: string, expectedShape?: number[]): Tensor;
  has(name: string): boolean;
}

export interface ForwardOptions {
  /** Token ids `[B, T]`. Exactly one of `inputIds` / `inputsEmbeds`. */
  inputIds?: Tensor;
  /** Input embeddings `[B, T, D]`: the multimodal path, where projected modality rows are spliced in. */
  inputsEmbeds?: Tensor;
  /**
   * `[B][S]` 1 = real token, 0 = padding, over past + new positions (S = cache length + T).
   * Default: all ones.
   */
  attentionMask?: number[][];
  /** Decode with (and extend) this cache. */
  cache?: KVCache;
  /** Compute logits for every position (training) or only the last one (generation). Default 'all'. */
  logits?: 'all' | 'last' | 'none';
  /** Enables LoRA dropout. */
  training?: boolean;
}

export interface ForwardResult {
  /** `[B, T, V]` (or `[B, 1, V]` with logits: 'last'). */
  logits: Tensor | null;
  /** Final hidden states after the last norm, `[B, T, D]`. */
  hidden: Tensor;
}

/**
 * A Llama-family causal language model (Llama, Mistral, Qwen2, TinyLlama, SmolLM) in tfjs, with Hugging Face
 * parameter names so `model.safetensors` loads as is.
 */
export class LlamaForCausalLM {
  readonly invFreq: Tensor;
  /** The token embedding table as a tfjs variable, or null when an engine holds it ({@link frozenEmbed}). */
  readonly embedTokens: tf.Variable | null;
  /** The table held by an engine outside tfjs memory (Node's onnxruntime engine): lookups and the tied head. */
  readonly frozenEmbed: FrozenWeight | null;

  constructor(
    readonly config: LlamaConfig,
    embedTokens: tf.Variable | FrozenWeight,
    readonly layers: LlamaDecoderLayer[],
    readonly norm: RMSNorm,
    /** Null when the embeddings are tied (`tie_word_embeddings`). */
    readonly lmHead: Linear | null,
  ) {
    const frozen = !(embedTokens instanceof tf.Variable);
    this.embedTokens = frozen ? null : embedTokens;
    this.frozenEmbed = frozen ? embedTokens : null;
    if (this.frozenEmbed && !this.frozenEmbed.gatherRows) throw new Error('a frozen embedding table must support gatherRows');
    this.invFreq = tf.tensor1d(ropeInverseFrequencies(config.headDim, config.ropeTheta, config.ropeScaling));
  }

  /**
   * Builds the model from HF-named weights, checking every shape against the config. `linear` may supply
   * ready-made layers by module name (a loader that placed weights with an engine, see load-llama.ts).
   */
  static fromWeights(
    config: LlamaConfig,
    w: WeightGetter,
    linear?: (module: string, out: number, inp: number, bias: boolean) => Linear,
    embedding?: FrozenWeight,
  ): LlamaForCausalLM {
    const { hiddenSize: d, intermediateSize: f, numAttentionHeads: h, numKeyValueHeads: kvh, headDim: hd } = config;
    const lin = (name: string, out: number, inp: number, bias: boolean) =>
      linear ? linear(name, out, inp, bias) : new Linear(w.get(`${name}.weight`, [out, inp]), bias ? w.get(`${name}.bias`, [out]) : null);
    const layers: LlamaDecoderLayer[] = [];
    for (let i = 0; i < config.numHiddenLayers; i++) {
      const p = `model.layers.${i}`;
      const attn = new LlamaAttention(
        lin(`${p}.self_attn.q_proj`, h * hd, d, config.qkvBias),
        lin(`${p}.self_attn.k_proj`, kvh * hd, d, config.qkvBias),
        lin(`${p}.self_attn.v_proj`, kvh * hd, d, config.qkvBias),
        lin(`${p}.self_attn.o_proj`, d, h * hd, config.oBias),
        config,
      );
      const mlp = new LlamaMLP(
        lin(`${p}.mlp.gate_proj`, f, d, config.mlpBias),
        lin(`${p}.mlp.up_proj`, f, d, config.mlpBias),
        lin(`${p}.mlp.down_proj`, d, f, config.mlpBias),
        config.hiddenAct,
      );
      layers.push(
        new LlamaDecoderLayer(
          attn,
          mlp,
          new RMSNorm(w.get(`${p}.input_layernorm.weight`, [d]), config.rmsNormEps),
          new RMSNorm(w.get(`${p}.post_attention_layernorm.weight`, [d]), config.rmsNormEps),
        ),
      );
    }
    if (embedding && (embedding.outFeatures !== config.vocabSize || embedding.inFeatures !== d)) {
      throw new Error(`embedding table is [${embedding.outFeatures}, ${embedding.inFeatures}], expected [${config.vocabSize}, ${d}]`);
    }
    const embed = embedding ?? tf.variable(w.get('model.embed_tokens.weight', [config.vocabSize, d]), false);
    const norm = new RMSNorm(w.get('model.norm.weight', [d]), config.rmsNormEps);
    const lmHead =
      config.tieWordEmbeddings && !w.has('lm_head.weight') && !w.has('lm_head.qweight') ? null : lin('lm_head', config.vocabSize, d, false);
    return new LlamaForCausalLM(config, embed, layers, norm, lmHead);
  }

  /** Token embeddings `[B, T, D]` for ids `[B, T]`. Negative ids (modality placeholders) embed as row 0. */
  embed(inputIds: Tensor): Tensor {
    return tf.tidy(() => {
      const ids = tf.maximum(tf.cast(inputIds, 'int32'), tf.scalar(0, 'int32'));
      return this.frozenEmbed ? this.frozenEmbed.gatherRows!(ids) : tf.gather(this.embedTokens!, ids);
    });
  }

  /** Output projection (tied or not) on hidden states `[..., D]`. */
  project(hidden: Tensor): Tensor {
    return tf.tidy(() => {
      if (this.lmHead) return this.lmHead.apply(hidden);
      const lead = hidden.shape.slice(0, -1);
      const flat = hidden.reshape([-1, this.config.hiddenSize]);
      const logits = this.frozenEmbed ? frozenMatMul(flat, this.frozenEmbed) : tf.matMul(flat, this.embedTokens!, false, true);
      return logits.reshape([...lead, this.config.vocabSize]);
    });
  }

  /** Runs the decoder. With `cache`, appends the new positions to it (prefill or one decode step). */
  forward(opts: ForwardOptions): ForwardResult {
    const { cache, training = false } = opts;
    if (!!opts.inputIds === !!opts.inputsEmbeds) throw new Error('forward: pass exactly one of inputIds, inputsEmbeds');
    const out = tf.tidy(() => {
      const x0 = opts.inputsEmbeds ?? this.embed(opts.inputIds!);
      const [b, t] = x0.shape;
      const past = cache ? cache.length : 0;
      const newMask = opts.attentionMask ?? null;
      let fullMask: number[][];
      if (cache) {
        const step = newMask ? newMask.map((r) => r.slice(r.length - t)) : Array.from({ length: b }, () => ones(t));
        if (cache.batchSize !== b) throw new Error(`cache batch ${cache.batchSize} != input batch ${b}`);
        fullMask = cache.mask.map((r, i) => r.concat(step[i]));
        cache.mask = fullMask;
      } else {
        fullMask = newMask ?? Array.from({ length: b }, () => ones(t));
      }
      if (fullMask.length !== b || fullMask.some((r) => r.length !== past + t)) {
        throw new Error(`attention mask must be [${b}][${past + t}]`);
      }
      const positions = tf.tensor2d(positionsFromMask(fullMask, t), [b, t], 'int32');
      const { cos, sin } = ropeCosSin(positions, this.invFreq);
      // One mask per distinct window: Qwen2 can mix full-attention and sliding-window layers.
      const masks = new Map<number | null, Tensor>();
      const maskFor = (w: number | null) => {
        if (!masks.has(w)) masks.set(w, buildAttentionMask(fullMask, t, past, w));
        return masks.get(w)!;
      };
      let x = x0;
      this.layers.forEach((layer, i) => {
        const mask = maskFor(this.config.layerSlidingWindows[i] ?? null);
        x = layer.apply(x, cos, sin, mask, cache ? cache.layers[i] : null, training);
      });
      const hidden = this.norm.apply(x);
      const want = opts.logits ?? 'all';
      if (want === 'none') return { hidden };
      return { hidden, logits: this.project(want === 'last' ? hidden.slice([0, t - 1, 0], [b, 1, -1]) : hidden) };
    }) as { hidden: Tensor; logits?: Tensor };
    return { hidden: out.hidden, logits: out.logits ?? null };
  }

  newCache(batchSize: number): KVCache {
    return new KVCache(this.config.numHiddenLayers, batchSize);
  }

  /** All parameters under their Hugging Face names (`model.layers.0.self_attn.q_proj.weight`, …). */
  parameters(): Map<string, tf.Variable> {
    const m = new Map<string, tf.Variable>(this.embedTokens ? [['model.embed_tokens.weight', this.embedTokens]] : []);
    this.layers.forEach((layer, i) => {
      for (const [n, v] of layer.parameters()) m.set(`model.layers.${i}.${n}`, v);
    });
    m.set('model.norm.weight', this.norm.weight);
    for (const [n, v] of this.lmHead?.parameters() ?? []) m.set(`lm_head.${n}`, v);
    return m;
  }

  /** Linear layers by HF module name (`model.layers.0.self_attn.q_proj`), for LoRA. */
  linears(): Map<string, Linear> {
    const m = new Map<string, Linear>();
    this.layers.forEach((layer, i) => {
      for (const [n, l] of layer.linears()) m.set(`model.layers.${i}.${n}`, l);
    });
    return m;
  }

  /** Bytes of weights this model holds, by where they are (tfjs tensors, or an engine's frozen weights). */
  weightBytes(): { tfjs: number; frozen: number } {
    let tfjs = 0;
    for (const v of this.parameters().values()) tfjs += v.size * 4;
    let frozen = this.frozenEmbed?.byteLength ?? 0;
    const all = [...this.linears().values(), ...(this.lmHead ? [this.lmHead] : [])];
    for (const l of all) frozen += l.frozen?.byteLength ?? 0;
    return { tfjs, frozen };
  }

  dispose(): void {
    this.embedTokens?.dispose();
    this.frozenEmbed?.dispose();
    for (const l of this.layers) l.dispose();
    this.norm.dispose();
    this.lmHead?.dispose();
    this.invFreq.dispose();
  }
}

function ones(n: number): number[] {
  return new Array(n).fill(1);
}
