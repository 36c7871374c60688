import { tf, type Tensor } from '../tf.js';
import { Linear, initLinear } from '../nn/linear.js';
import { gelu } from '../nn/activations.js';
import type { Projector } from './projector.js';

/**
 * LLaVA's `mlp{N}x_gelu` projector: Linear(in→H), then (GELU, Linear(H→H)) × (layers−1), applied to every
 * feature token independently, so `tokenWidth` equals the number of encoder tokens (e.g. 576 CLIP patches).
 * As an `nn.Sequential` the linears sit at indices 0, 2, 4, … — those are the parameter names.
 */
export class PatchMLPProjector implements Projector {
  constructor(readonly linears: Linear[]) {
    if (linears.length === 0) throw new Error('PatchMLPProjector needs at least one layer');
  }

  static init(inputSize: number, lmHidden: number, layers: number, rand: () => number): PatchMLPProjector {
    const ls = [initLinear(inputSize, lmHidden, rand)];
    for (let i = 1; i < layers; i++) ls.push(initLinear(lmHidden, lmHidden, rand));
    return new PatchMLPProjector(ls);
  }

  /** Builds from weights named `0.weight`, `0.bias`, `2.weight`, … */
  static fromWeights(get: (name: string) => Tensor, layers: number): PatchMLPProjector {
    const ls: Linear[] = [];
    for (let i = 0; i < layers; i++) ls.push(new Linear(get(`${2 * i}.weight`), get(`${2 * i}.bias`), true));
    return new PatchMLPProjector(ls);
  }

  apply(features: Tensor, training = false): Tensor {
    return tf.tidy(() => {
      let x = this.linears[0].apply(features, training);
      for (let i = 1; i < this.linears.length; i++) x = this.linears[i].apply(gelu(x), training);
      return x;
    });
  }

  parameters(): Map<string, tf.Variable> {
    const m = new Map<string, tf.Variable>();
    this.linears.forEach((l, i) => {
      for (const [n, v] of l.parameters()) m.set(`${2 * i}.${n}`, v);
    });
    return m;
  }

  dispose(): void {
    for (const l of this.linears) l.dispose();
  }
}
