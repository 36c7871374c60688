import { tf, type Tensor } from '../tf.js';
import type { Linear, LinearAdapter } from '../nn/linear.js';
import type { Rng } from '../util/rng.js';

/**
 * LoRA (Hu et al., 2021) on one linear layer: `y += (alpha / r) · B · A · dropout(x)`, with A `[r, in]`
 * initialised like PyTorch's kaiming-uniform (as PEFT does) and B `[out, r]` zero, so training starts from
 * the base model's function exactly.
 */
export class LoraAdapter implements LinearAdapter {
  readonly A: tf.Variable;
  readonly B: tf.Variable;
  readonly scale: number;

  constructor(
    A: Tensor,
    B: Tensor,
    readonly alpha: number,
    readonly dropout: number,
    private readonly rng: Rng | null = null,
  ) {
    this.A = tf.variable(A, true);
    this.B = tf.variable(B, true);
    this.scale = alpha / this.rank;
  }

  get rank(): number {
    return this.A.shape[0] as number;
  }

  /** A fresh adapter for `layer` (B = 0). */
  static init(layer: Linear, r: number, alpha: number, dropout: number, rng: Rng): LoraAdapter {
    const inF = layer.inFeatures;
    // PEFT: kaiming_uniform_(a=sqrt(5)) → bound = 1/sqrt(fan_in).
    const bound = 1 / Math.sqrt(inF);
    const a = new Float32Array(r * inF);
    for (let i = 0; i < a.length; i++) a[i] = (rng.next() * 2 - 1) * bound;
    return new LoraAdapter(tf.tensor2d(a, [r, inF]), tf.zeros([layer.outFeatures, r]), alpha, dropout, rng);
  }

  apply(x2: Tensor, training: boolean): Tensor {
    return tf.tidy(() => {
      let x = x2;
      if (training && this.dropout > 0) {
        // Seeded from our own RNG so a resumed run draws the same masks as an uninterrupted one.
        const seed = Math.floor((this.rng?.next() ?? Math.random()) * 2 ** 31);
        x = tf.dropout(x, this.dropout, undefined, seed);
      }
      const down = tf.matMul(x, this.A, false, true);
      return tf.mul(tf.matMul(down, this.B, false, true), this.scale);
    });
  }

  /** `scale · B · A`, the update folded into the base weight by `mergeLora`. */
  delta(): Tensor {
    return tf.tidy(() => tf.mul(tf.matMul(this.B, this.A), this.scale));
  }

  dispose(): void {
    this.A.dispose();
    this.B.dispose();
  }
}
