import { tf, type Tensor } from '../tf.js';
import { Linear } from '../nn/linear.js';
import type { LlamaConfig } from './config.js';
import { applyRope } from './rope.js';
import type { LayerKV } from './kv-cache.js';

/**
 * Scaled dot-product attention with grouped-query heads. Instead of repeating K and V `nRep` times (HF's
 * `repeat_kv`, a copy per layer), the `nRep` query heads that share a KV head are folded into the query
 * length, so one batched matmul per KV head does the work. Head `h` uses KV head `floor(h / nRep)`, as in HF.
 *
 * q: `[B, H, T, d]`, k/v: `[B, KVH, S, d]`, mask: additive `[B, 1, T, S]`. Returns `[B, H, T, d]`.
 */
export function groupedQueryAttention(q: Tensor, k: Tensor, v: Tensor, mask: Tensor): Tensor {
  return tf.tidy(() => {
    const [b, h, t, d] = q.shape as number[];
    const kvh = k.shape[1] as number;
    const s = k.shape[2] as number;
    const nRep = h / kvh;
    const qg = q.reshape([b, kvh, nRep * t, d]);
    const scores = tf.mul(tf.matMul(qg, k, false, true), 1 / Math.sqrt(d)).reshape([b, kvh, nRep, t, s]);
    const probs = tf.softmax(tf.add(scores, mask.reshape([b, 1, 1, t, s])), -1).reshape([b, kvh, nRep * t, s]);
    return tf.matMul(probs, v).reshape([b, h, t, d]);
  });
}

/** Llama self-attention: q/k/v projections, RoPE, GQA, output projection. */
export class LlamaAttention {
  constructor(
    readonly qProj: Linear,
    readonly kProj: Linear,
    readonly vProj: Linear,
    readonly oProj: Linear,
    readonly config: LlamaConfig,
  ) {}

  /**
   * x: `[B, T, D]`. `cos`/`sin`: `[B, 1, T, d]`. With `kv`, the new keys/values are appended to the layer's
   * cache and attention runs over the whole cached sequence.
   */
  apply(x: Tensor, cos: Tensor, sin: Tensor, mask: Tensor, kv: LayerKV | null, training: boolean): Tensor {
    return tf.tidy(() => {
      const [b, t] = x.shape as number[];
      const { numAttentionHeads: h, numKeyValueHeads: kvh, headDim: d } = this.config;
      const heads = (y: Tensor, n: number) => y.reshape([b, t, n, d]).transpose([0, 2, 1, 3]);
      const q = applyRope(heads(this.qProj.apply(x, training), h), cos, sin);
      let k = applyRope(heads(this.kProj.apply(x, training), kvh), cos, sin);
      let v = heads(this.vProj.apply(x, training), kvh);
      if (kv) [k, v] = kv.append(k, v);
      const out = groupedQueryAttention(q, k, v, mask);
      return this.oProj.apply(out.transpose([0, 2, 1, 3]).reshape([b, t, h * d]), training);
    });
  }

  parameters(): Map<string, tf.Variable> {
    const m = new Map<string, tf.Variable>();
    for (const [name, lin] of [
      ['q_proj', this.qProj],
      ['k_proj', this.kProj],
      ['v_proj', this.vProj],
      ['o_proj', this.oProj],
    ] as const) {
      for (const [p, v] of lin.parameters()) m.set(`${name}.${p}`, v);
    }
    return m;
  }

  linears(): Record<string, Linear> {
    return { q_proj: this.qProj, k_proj: this.kProj, v_proj: this.vProj, o_proj: this.oProj };
  }

  dispose(): void {
    for (const l of [this.qProj, this.kProj, this.vProj, this.oProj]) l.dispose();
  }
}
