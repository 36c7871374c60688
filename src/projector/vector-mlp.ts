import { tf, type Tensor } from '../tf.js';
import { PatchMLPProjector } from './patch-mlp.js';
import type { Projector } from './projector.js';

/**
 * The seed's `_MLPVectorProjector`: `numTokens` independent MLPs, each turning one feature vector into one
 * LM token, concatenated along the token axis. Input `[n, 1, inputSize]` (a pooled embedding, a game state
 * vector) → `[n, numTokens, lmHidden]`. Parameters are `mlps.<j>.<i>.weight` as in the Python ModuleList.
 */
export class VectorMLPProjector implements Projector {
  constructor(readonly mlps: PatchMLPProjector[]) {
    if (mlps.length === 0) throw new Error('VectorMLPProjector needs at least one token');
  }

  static init(inputSize: number, lmHidden: number, layers: number, numTokens: number, rand: () => number): VectorMLPProjector {
    return new VectorMLPProjector(
      Array.from({ length: numTokens }, () => PatchMLPProjector.init(inputSize, lmHidden, layers, rand)),
    );
  }

  static fromWeights(get: (name: string) => Tensor, layers: number, numTokens: number): VectorMLPProjector {
    return new VectorMLPProjector(
      Array.from({ length: numTokens }, (_, j) => PatchMLPProjector.fromWeights((n) => get(`mlps.${j}.${n}`), layers)),
    );
  }

  apply(features: Tensor, training = false): Tensor {
    return tf.tidy(() => tf.concat(this.mlps.map((m) => m.apply(features, training)), -2));
  }

  parameters(): Map<string, tf.Variable> {
    const m = new Map<string, tf.Variable>();
    this.mlps.forEach((mlp, j) => {
      for (const [n, v] of mlp.parameters()) m.set(`mlps.${j}.${n}`, v);
    });
    return m;
  }

  dispose(): void {
    for (const m of this.mlps) m.dispose();
  }
}
