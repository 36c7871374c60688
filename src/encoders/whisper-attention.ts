/**
 * Building blocks shared by the Whisper encoder and decoder: multi-head attention with Whisper's bias layout
 * (k_proj has none), and helpers that load `Linear` / `LayerNorm` layers by Hugging Face name.
 */
import { tf, type Tensor } from '../tf.js';
import { Linear } from '../nn/linear.js';
import { LayerNorm } from '../nn/norms.js';
import type { WeightStore } from '../io/weights.js';

/** The part of {@link WeightStore} the Whisper loaders use (so tests can pass an in-memory store). */
export type WhisperWeights = Pick<WeightStore, 'get' | 'getRaw' | 'has' | 'keys'>;

/** Whisper's LayerNorms are `nn.LayerNorm(d_model)` with PyTorch's default eps. */
export const WHISPER_LAYER_NORM_EPS = 1e-5;

/** `<prefix>.weight` [out, in] and, when `bias`, `<prefix>.bias` [out] as a frozen `Linear`. */
export function loadLinear(w: WhisperWeights, prefix: string, inDim: number, outDim: number, bias = true): Linear {
  return new Linear(w.get(`${prefix}.weight`, [outDim, inDim]), bias ? w.get(`${prefix}.bias`, [outDim]) : null);
}

/** `<prefix>.weight` and `<prefix>.bias` [d] as a LayerNorm with Whisper's eps. */
export function loadLayerNorm(w: WhisperWeights, prefix: string, d: number): LayerNorm {
  return new LayerNorm(w.get(`${prefix}.weight`, [d]), w.get(`${prefix}.bias`, [d]), WHISPER_LAYER_NORM_EPS);
}

/**
 * `WhisperAttention`: q/v/out projections with bias, k without (OpenAI's original layout, kept by HF), scores
 * scaled by head_dim^-0.5 applied to q, softmax over keys, no mask. The encoder needs no mask (bidirectional);
 * the decoder is only ever run here for its first position, where a causal mask hides nothing.
 */
export class WhisperAttention {
  readonly headDim: number;

  constructor(
    readonly q: Linear,
    readonly k: Linear,
    readonly v: Linear,
    readonly out: Linear,
    readonly heads: number,
  ) {
    const d = q.outFeatures;
    if (d % heads !== 0) throw new Error(`attention width ${d} is not divisible by ${heads} heads`);
    this.headDim = d / heads;
  }

  /** Loads `<prefix>.{q,k,v,out}_proj` (k_proj without bias) for width `d`. */
  static load(w: WhisperWeights, prefix: string, d: number, heads: number): WhisperAttention {
    return new WhisperAttention(
      loadLinear(w, `${prefix}.q_proj`, d, d),
      loadLinear(w, `${prefix}.k_proj`, d, d, false),
      loadLinear(w, `${prefix}.v_proj`, d, d),
      loadLinear(w, `${prefix}.out_proj`, d, d),
      heads,
    );
  }

  /**
   * Attends from `x` [n, T, d] to `kv` [n, S, d] (self-attention when `kv` is omitted); returns [n, T, d].
   */
  apply(x: Tensor, kv: Tensor = x): Tensor {
    return tf.tidy(() => {
      const [k, v] = this.keysValues(kv);
      return this.attend(x, k, v);
    });
  }

  /** Keys and values of `kv` [n, S, d], split into heads: two [n, heads, S, headDim] tensors. */
  keysValues(kv: Tensor): [Tensor, Tensor] {
    return tf.tidy(() => [this.split(this.k.apply(kv)), this.split(this.v.apply(kv))] as [Tensor, Tensor]);
  }

  /** Attention of queries from `x` [n, T, d] over head-split keys and values. */
  attend(x: Tensor, k: Tensor, v: Tensor): Tensor {
    return tf.tidy(() => {
      const [n, t] = x.shape as [number, number, number];
      const q = this.split(tf.mul(this.q.apply(x), 1 / Math.sqrt(this.headDim)));
      const probs = tf.softmax(tf.matMul(q, k, false, true));
      const ctx = tf.matMul(probs, v).transpose([0, 2, 1, 3]).reshape([n, t, this.heads * this.headDim]);
      return this.out.apply(ctx);
    });
  }

  private split(x: Tensor): Tensor {
    const [n, t] = x.shape as [number, number, number];
    return x.reshape([n, t, this.heads, this.headDim]).transpose([0, 2, 1, 3]);
  }

  dispose(): void {
    for (const l of [this.q, this.k, this.v, this.out]) l.dispose();
  }
}
