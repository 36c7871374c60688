import { tf, type Tensor } from '../tf.js';

/** One layer's cached keys and values, `[B, KVH, S, d]` each. */
export class LayerKV {
  k: Tensor | null = null;
  v: Tensor | null = null;

  /**
   * Appends this step's keys/values and returns the full sequence. The cache keeps its own references
   * (`tf.keep`) so the caller's `tidy` may free everything else.
   */
  append(k: Tensor, v: Tensor): [Tensor, Tensor] {
    const nk = this.k ? tf.concat([this.k, k], 2) : k.clone();
    const nv = this.v ? tf.concat([this.v, v], 2) : v.clone();
    this.k?.dispose();
    this.v?.dispose();
    this.k = tf.keep(nk);
    this.v = tf.keep(nv);
    return [nk, nv];
  }

  dispose(): void {
    this.k?.dispose();
    this.v?.dispose();
    this.k = this.v = null;
  }
}

/**
 * The key/value cache of a decoder: per layer K/V plus the padding mask of every cached position, so the
 * next step knows which keys are real (left padding in batched generation).
 */
export class KVCache {
  readonly layers: LayerKV[];
  /** `[B][S]` 1 for real tokens, 0 for padding, for every position cached so far. */
  mask: number[][];

  constructor(numLayers: number, batchSize: number) {
    this.layers = Array.from({ length: numLayers }, () => new LayerKV());
    this.mask = Array.from({ length: batchSize }, () => []);
  }

  /** Number of cached positions. */
  get length(): number {
    return this.mask[0]?.length ?? 0;
  }

  get batchSize(): number {
    return this.mask.length;
  }

  dispose(): void {
    for (const l of this.layers) l.dispose();
  }
}
