import { tf, type Tensor } from '../tf.js';
import { frozenMatMul, type FrozenWeight } from './frozen-weight.js';

/**
 * A low-rank adapter attached to a `Linear` (LoRA). The adapter adds `scale · B(A(dropout(x)))` to the layer's
 * output; `src/lora/` provides the implementation and its PEFT-format save/load.
 */
export interface LinearAdapter {
  /** `x2` is the layer input flattened to `[rows, inFeatures]`; returns `[rows, outFeatures]`. */
  apply(x2: Tensor, training: boolean): Tensor;
}

/**
 * `y = x Wᵀ + b` with the weight in PyTorch/Hugging Face layout `[out, in]`, so checkpoints load without a
 * transpose. Parameters are `tf.Variable`s (frozen unless made trainable) so the same object serves inference,
 * projector pretraining and full finetuning. The weight may instead be a {@link FrozenWeight} held by an engine
 * outside tfjs memory (16-bit, 4-/8-bit): then it never trains, but LoRA on top of it does (QLoRA).
 */
export class Linear {
  private readonly w: tf.Variable | null;
  /** The weight when an engine holds it (see frozen-weight.ts); null for an ordinary tfjs weight. */
  readonly frozen: FrozenWeight | null;
  readonly bias: tf.Variable | null;
  adapter: LinearAdapter | null = null;
  /** `Wᵀ` for backends whose matmul is slow with a transposed operand (wasm), kept while W is unchanged. */
  private wT: Tensor | null = null;
  private wTFor: object | null = null;

  constructor(weight: Tensor | FrozenWeight, bias: Tensor | null = null, trainable = false) {
    if (weight instanceof tf.Tensor) {
      if (weight.rank !== 2) throw new Error(`Linear weight must be 2-D [out, in], got shape [${weight.shape}]`);
      this.w = tf.variable(weight, trainable);
      this.frozen = null;
    } else {
      this.w = null;
      this.frozen = weight;
    }
    this.bias = bias ? tf.variable(bias, trainable) : null;
    if (this.bias && this.bias.shape[0] !== this.outFeatures) {
      throw new Error(`Linear bias has ${this.bias.shape[0]} entries, weight has ${this.outFeatures} outputs`);
    }
    // Built now rather than on first use, so tensor counts stay flat across calls (leak checks rely on it).
    if (this.w && PRETRANSPOSE_BACKENDS.has(tf.getBackend())) this.transposedWeight();
  }

  /** The tfjs weight `[out, in]`. Throws for a weight an engine holds ({@link frozen}). */
  get weight(): tf.Variable {
    if (!this.w) {
      throw new Error(
        `this Linear's ${this.frozen!.dtype} weight is held by the engine, not as a tfjs variable (loaded with --dtype ` +
          `${this.frozen!.dtype}); load the model with trainable f32 weights to change it`,
      );
    }
    return this.w;
  }

  get inFeatures(): number {
    return this.frozen ? this.frozen.inFeatures : (this.weight.shape[1] as number);
  }
  get outFeatures(): number {
    return this.frozen ? this.frozen.outFeatures : (this.weight.shape[0] as number);
  }

  /** Applies the layer over the last axis of `x` (any rank ≥ 1). */
  apply(x: Tensor, training = false): Tensor {
    return tf.tidy(() => {
      const lead = x.shape.slice(0, -1);
      const x2 = x.reshape([-1, this.inFeatures]);
      let y = this.frozen
        ? frozenMatMul(x2, this.frozen)
        : PRETRANSPOSE_BACKENDS.has(tf.getBackend())
          ? tf.matMul(x2, this.transposedWeight())
          : tf.matMul(x2, this.weight, false, true);
      if (this.bias) y = tf.add(y, this.bias);
      if (this.adapter) y = tf.add(y, this.adapter.apply(x2, training));
      return y.reshape([...lead, this.outFeatures]);
    });
  }

  /**
   * `Wᵀ`, cached for frozen use (inference, frozen layers in training). While a gradient is being recorded for a
   * trainable weight the transpose is computed inline so the gradient reaches W.
   */
  private transposedWeight(): Tensor {
    if (this.weight.trainable && tf.engine().state.gradientDepth > 0) return tf.transpose(this.weight);
    if (this.wTFor !== this.weight.dataId || !this.wT) {
      this.wT?.dispose();
      this.wT = tf.keep(tf.transpose(this.weight));
      this.wTFor = this.weight.dataId;
    }
    return this.wT;
  }

  /** Named tfjs parameters relative to this layer (`weight` unless the engine holds it, `bias`). */
  parameters(): Map<string, tf.Variable> {
    const m = new Map<string, tf.Variable>();
    if (this.w) m.set('weight', this.w);
    if (this.bias) m.set('bias', this.bias);
    return m;
  }

  dispose(): void {
    this.w?.dispose();
    this.frozen?.dispose();
    this.bias?.dispose();
    this.wT?.dispose();
    this.wT = null;
  }
}

/**
 * `pretranspose`: backends where `x·Wᵀ` is much slower than `x·(Wᵀ)` with a stored transpose (measured on wasm
 * 4.22: 6–30× for Linear shapes). The cached copy doubles frozen weight memory there; WebGPU and WebGL don't need
 * it, nor does wasm once the Node engine (onnxruntime) runs its matmuls, which removes it from this set.
 */
export const linearOptions = { pretranspose: new Set(['wasm']) };
const PRETRANSPOSE_BACKENDS = linearOptions.pretranspose;

/** Deterministic PyTorch-style `nn.Linear` init (kaiming-uniform bound 1/sqrt(in)) from a seeded generator. */
export function initLinear(
  inFeatures: number,
  outFeatures: number,
  rand: () => number,
  withBias = true,
  trainable = true,
): Linear {
  const bound = 1 / Math.sqrt(inFeatures);
  const w = new Float32Array(inFeatures * outFeatures);
  for (let i = 0; i < w.length; i++) w[i] = (rand() * 2 - 1) * bound;
  let b: Tensor | null = null;
  if (withBias) {
    const bv = new Float32Array(outFeatures);
    for (let i = 0; i < bv.length; i++) bv[i] = (rand() * 2 - 1) * bound;
    b = tf.tensor1d(bv);
  }
  return new Linear(tf.tensor2d(w, [outFeatures, inFeatures]), b, trainable);
}
