/**
 * Linear weights that never train (inference, LoRA/QLoRA's frozen base), held wherever an engine computes with
 * them best: onnxruntime buffers and MatMulNBits sessions in Node (node/ort/), WGSL buffers on WebGPU. They
 * live outside tfjs memory, so a model is not bounded by the wasm heap, and they may be 16-bit or 4-/8-bit.
 *
 * An engine plugs in a {@link FrozenWeightPlacer}; without one (browser today) weights stay ordinary float32
 * tfjs tensors (quantized checkpoints are widened at load), so every checkpoint loads everywhere.
 */
import { tf, type Tensor } from '../tf.js';
import type { RawTensor } from '../io/safetensors.js';
import type { NBitsMatrix } from '../quant/nbits.js';

/** How a frozen Linear weight is held in memory (`--dtype`). */
export type WeightDType = 'f32' | 'f16' | 'bf16' | 'int8' | 'int4';

export const WEIGHT_DTYPES: readonly WeightDType[] = ['f32', 'f16', 'bf16', 'int8', 'int4'];

/** A frozen `W [out, in]` (PyTorch Linear layout) and the two products training and inference need. */
export interface FrozenWeight {
  readonly outFeatures: number;
  readonly inFeatures: number;
  readonly dtype: WeightDType;
  /** Bytes this weight holds in memory. */
  readonly byteLength: number;
  /** `x2 [rows, in] → [rows, out] = x2 · Wᵀ`. Called outside any gradient tape. */
  matmul(x2: Tensor): Tensor;
  /** `dy [rows, out] → [rows, in] = dy · W`: the gradient w.r.t. the input (LoRA below this layer trains). */
  matmulTransposed(dy: Tensor): Tensor;
  /** W widened to float32 `[out, in]`, row-major (merging LoRA, saving, tests). */
  toFloat32(): Float32Array;
  /**
   * Rows of W for int32 ids of any shape → `[...ids.shape, in]`: an embedding table held by the engine (its tied
   * output projection is `matmul`). Optional: only weights placed as an embedding have it.
   */
  gatherRows?(ids: Tensor): Tensor;
  dispose(): void;
}

/** A Linear weight as the loader found it. */
export type WeightSource =
  | { kind: 'float'; raw: RawTensor }
  | { kind: 'nbits'; matrix: NBitsMatrix };

/** Options for placing one weight. */
export interface PlaceOptions {
  /**
   * Gradients will flow through this layer (LoRA/QLoRA training): keep what `matmulTransposed` needs. Without
   * it an engine may drop its own copy of quantized bytes once they are packed for the matmul kernel.
   */
  gradients: boolean;
  /** Group size when quantizing a float weight at load (default 32). */
  groupSize?: number;
  /**
   * The weight is the token embedding table and must support `gatherRows`: `lookup` when only rows are read
   * (f16/bf16 then mean the stored 16-bit values, kept as they are), `tied` when it is also the output projection.
   */
  table?: 'lookup' | 'tied';
}

/**
 * Turns a loaded weight into a {@link FrozenWeight} held as `dtype` (quantizing or widening as needed), or
 * returns null to leave it a float32 tfjs tensor. `name` is the module (`model.layers.0.mlp.up_proj`).
 */
export type FrozenWeightPlacer = (name: string, src: WeightSource, dtype: WeightDType, opts: PlaceOptions) => FrozenWeight | null;

let placer: FrozenWeightPlacer | null = null;

/** Installs (or with null removes) the engine's placer; `configurePlatform({ frozenWeights })` calls it. */
export function setFrozenWeightPlacer(p: FrozenWeightPlacer | null): void {
  placer = p;
}

/** The installed placer, if any. */
export function frozenWeightPlacer(): FrozenWeightPlacer | null {
  return placer;
}

/**
 * `x2 · Wᵀ` as a differentiable op w.r.t. `x2` (the weight itself gets no gradient). Used by `Linear` for
 * frozen weights; the gradient is `dy · W`, computed by the engine without materialising W where it can.
 */
export function frozenMatMul(x2: Tensor, w: FrozenWeight): Tensor {
  const op = tf.customGrad(((x: Tensor) => ({
    value: w.matmul(x),
    gradFunc: (dy: Tensor) => w.matmulTransposed(dy),
  })) as unknown as Parameters<typeof tf.customGrad>[0]);
  return op(x2);
}
