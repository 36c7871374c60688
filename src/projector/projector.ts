import type { tf, Tensor } from '../tf.js';

/**
 * Maps encoder features of one row's items, `[n, featureTokens, featureDim]`, to LM input embeddings
 * `[n, tokenWidth, lmHidden]`. Parameter names are relative to `<modality>_lmm_projector.`, exactly as the
 * Python library's `nn.Sequential` / `nn.ModuleList` name them, so weights move between the two unchanged.
 */
export interface Projector {
  apply(features: Tensor, training?: boolean): Tensor;
  /** Parameters by their PyTorch names relative to the projector (`0.weight`, `mlps.3.2.bias`, …). */
  parameters(): Map<string, tf.Variable>;
  dispose(): void;
}

/** Describes a projector in config.json so a checkpoint can rebuild it without code. */
export type ProjectorSpec =
  | { type: 'patch_mlp'; inputSize: number; layers: number }
  | { type: 'vector_mlp'; inputSize: number; layers: number; numTokens: number };
