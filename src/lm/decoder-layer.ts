import { tf, type Tensor } from '../tf.js';
import { Linear } from '../nn/linear.js';
import { RMSNorm } from '../nn/norms.js';
import { activation } from '../nn/activations.js';
import { LlamaAttention } from './attention.js';
import type { LayerKV } from './kv-cache.js';

/** SwiGLU feed-forward: `down(act(gate(x)) · up(x))`. */
export class LlamaMLP {
  private readonly act: (x: Tensor) => Tensor;
  constructor(
    readonly gateProj: Linear,
    readonly upProj: Linear,
    readonly downProj: Linear,
    hiddenAct: string,
  ) {
    this.act = activation(hiddenAct);
  }
  apply(x: Tensor, training: boolean): Tensor {
    return tf.tidy(() =>
      this.downProj.apply(tf.mul(this.act(this.gateProj.apply(x, training)), this.upProj.apply(x, training)), training),
    );
  }
  linears(): Record<string, Linear> {
    return { gate_proj: this.gateProj, up_proj: this.upProj, down_proj: this.downProj };
  }
  dispose(): void {
    for (const l of [this.gateProj, this.upProj, this.downProj]) l.dispose();
  }
}

/** Pre-norm decoder block: `h = x + attn(norm(x)); y = h + mlp(norm(h))`. */
export class LlamaDecoderLayer {
  constructor(
    readonly selfAttn: LlamaAttention,
    readonly mlp: LlamaMLP,
    readonly inputLayernorm: RMSNorm,
    readonly postAttentionLayernorm: RMSNorm,
  ) {}

  apply(x: Tensor, cos: Tensor, sin: Tensor, mask: Tensor, kv: LayerKV | null, training: boolean): Tensor {
    return tf.tidy(() => {
      const h = tf.add(x, this.selfAttn.apply(this.inputLayernorm.apply(x), cos, sin, mask, kv, training));
      return tf.add(h, this.mlp.apply(this.postAttentionLayernorm.apply(h), training));
    });
  }

  /** Parameters under their Hugging Face names relative to `model.layers.N.`. */
  parameters(): Map<string, tf.Variable> {
    const m = new Map<string, tf.Variable>();
    for (const [n, v] of this.selfAttn.parameters()) m.set(`self_attn.${n}`, v);
    for (const [n, lin] of Object.entries(this.mlp.linears())) {
      for (const [p, v] of lin.parameters()) m.set(`mlp.${n}.${p}`, v);
    }
    m.set('input_layernorm.weight', this.inputLayernorm.weight);
    m.set('post_attention_layernorm.weight', this.postAttentionLayernorm.weight);
    return m;
  }

  /** The linear layers LoRA can target, by their HF module names (`self_attn.q_proj`, `mlp.up_proj`, …). */
  linears(): Map<string, Linear> {
    const m = new Map<string, Linear>();
    for (const [n, l] of Object.entries(this.selfAttn.linears())) m.set(`self_attn.${n}`, l);
    for (const [n, l] of Object.entries(this.mlp.linears())) m.set(`mlp.${n}`, l);
    return m;
  }

  dispose(): void {
    this.selfAttn.dispose();
    this.mlp.dispose();
    this.inputLayernorm.dispose();
    this.postAttentionLayernorm.dispose();
  }
}
