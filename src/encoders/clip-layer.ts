import { tf, type Tensor } from '../tf.js';
import { Linear } from '../nn/linear.js';
import { LayerNorm } from '../nn/norms.js';
import { activation } from '../nn/activations.js';
import type { CLIPVisionConfig } from './clip-config.js';

/** Reads one weight by its name relative to a module prefix, checking the shape. */
export type WeightGetter = (name: string, shape: number[]) => Tensor;

/**
 * One pre-norm transformer block of the CLIP encoder (Hugging Face `CLIPEncoderLayer`):
 * `x + attn(ln1(x))`, then `x + fc2(act(fc1(ln2(x))))`. Attention is full (no mask): every image token sees every
 * other. Frozen: parameters are non-trainable variables.
 */
export class CLIPEncoderLayer {
  private readonly act: (x: Tensor) => Tensor;

  constructor(
    readonly q: Linear,
    readonly k: Linear,
    readonly v: Linear,
    readonly out: Linear,
    readonly ln1: LayerNorm,
    readonly fc1: Linear,
    readonly fc2: Linear,
    readonly ln2: LayerNorm,
    readonly config: CLIPVisionConfig,
  ) {
    this.act = activation(config.hiddenAct);
  }

  /** Builds layer weights named as in HF (`self_attn.q_proj.weight`, `layer_norm1.bias`, `mlp.fc1.weight`, …). */
  static load(get: WeightGetter, c: CLIPVisionConfig): CLIPEncoderLayer {
    const d = c.hiddenSize;
    const f = c.intermediateSize;
    const lin = (name: string, out: number, inp: number) => new Linear(get(`${name}.weight`, [out, inp]), get(`${name}.bias`, [out]));
    const ln = (name: string) => new LayerNorm(get(`${name}.weight`, [d]), get(`${name}.bias`, [d]), c.layerNormEps);
    return new CLIPEncoderLayer(
      lin('self_attn.q_proj', d, d),
      lin('self_attn.k_proj', d, d),
      lin('self_attn.v_proj', d, d),
      lin('self_attn.out_proj', d, d),
      ln('layer_norm1'),
      lin('mlp.fc1', f, d),
      lin('mlp.fc2', d, f),
      ln('layer_norm2'),
      c,
    );
  }

  /** Parameters by HF name relative to `encoder.layers.N.`. */
  parameters(): Map<string, tf.Variable> {
    const m = new Map<string, tf.Variable>();
    const parts: [string, { parameters(): Map<string, tf.Variable> }][] = [
      ['self_attn.q_proj', this.q], ['self_attn.k_proj', this.k], ['self_attn.v_proj', this.v], ['self_attn.out_proj', this.out],
      ['layer_norm1', this.ln1], ['mlp.fc1', this.fc1], ['mlp.fc2', this.fc2], ['layer_norm2', this.ln2],
    ];
    for (const [name, mod] of parts) for (const [n, v] of mod.parameters()) m.set(`${name}.${n}`, v);
    return m;
  }

  /** `x: [n, T, hidden]` → same shape. */
  apply(x: Tensor): Tensor {
    return tf.tidy(() => {
      const h = tf.add(x, this.attention(this.ln1.apply(x)));
      return tf.add(h, this.fc2.apply(this.act(this.fc1.apply(this.ln2.apply(h)))));
    });
  }

  private attention(x: Tensor): Tensor {
    const [n, t, d] = x.shape as number[];
    const heads = this.config.numAttentionHeads;
    const hd = d / heads;
    const split = (y: Tensor) => y.reshape([n, t, heads, hd]).transpose([0, 2, 1, 3]);
    // HF scales q before the product (`q_proj(x) * scale`); scaling the scores instead is the same in exact
    // arithmetic and differs by float rounding only.
    const q = split(tf.mul(this.q.apply(x), 1 / Math.sqrt(hd)));
    const k = split(this.k.apply(x));
    const v = split(this.v.apply(x));
    const probs = tf.softmax(tf.matMul(q, k, false, true), -1);
    const ctx = tf.matMul(probs, v).transpose([0, 2, 1, 3]).reshape([n, t, d]);
    return this.out.apply(ctx);
  }

  dispose(): void {
    for (const m of [this.q, this.k, this.v, this.out, this.ln1, this.fc1, this.fc2, this.ln2]) m.dispose();
  }
}
