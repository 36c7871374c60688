import type { Tensor } from '../tf.js';
import { PatchMLPProjector } from './patch-mlp.js';
import { VectorMLPProjector } from './vector-mlp.js';
import type { Projector, ProjectorSpec } from './projector.js';

export type { Projector, ProjectorSpec } from './projector.js';
export { PatchMLPProjector } from './patch-mlp.js';
export { VectorMLPProjector } from './vector-mlp.js';

/** A freshly initialised projector for a spec (deterministic from `rand`). */
export function initProjector(spec: ProjectorSpec, lmHidden: number, rand: () => number): Projector {
  return spec.type === 'patch_mlp'
    ? PatchMLPProjector.init(spec.inputSize, lmHidden, spec.layers, rand)
    : VectorMLPProjector.init(spec.inputSize, lmHidden, spec.layers, spec.numTokens, rand);
}

/** A projector from weights named relative to the projector (`0.weight`, `mlps.0.0.weight`, …). */
export function projectorFromWeights(spec: ProjectorSpec, get: (name: string) => Tensor): Projector {
  return spec.type === 'patch_mlp'
    ? PatchMLPProjector.fromWeights(get, spec.layers)
    : VectorMLPProjector.fromWeights(get, spec.layers, spec.numTokens);
}
