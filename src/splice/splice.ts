import { tf, type Tensor } from '../tf.js';
import type { SpliceLayout } from './layout.js';

/**
 * A faster implementation of `mergeEmbeddings` for the current backend (the WGSL kernel on WebGPU registers
 * itself here). It must give bit-identical results and a gradient with respect to `projected`.
 */
export type MergeImpl = (table: Tensor, layout: SpliceLayout, projected: Tensor) => Tensor | null;
let fastMerge: MergeImpl | null = null;

/**
 * Installs (or removes, with null) the fast path; `configurePlatform({ fastMerge })` (src/platform.ts) calls it.
 * Returning null from it falls back to the reference.
 */
export function setFastMerge(impl: MergeImpl | null): void {
  fastMerge = impl;
}

function checkProjected(layout: SpliceLayout, projected: Tensor, hidden: number): void {
  if (projected.rank !== 2 || projected.shape[0] !== layout.numProjectedRows || projected.shape[1] !== hidden) {
    throw new Error(
      `projected rows have shape [${projected.shape}], the layout needs [${layout.numProjectedRows}, ${hidden}]`,
    );
  }
}

/**
 * Reference splice in tfjs ops: token embeddings `[B, T, D]` with every placeholder position replaced by its
 * row of `projected` `[R, D]`. Differentiable with respect to both inputs (gather's gradient scatters into
 * the projected rows; `where` routes each position's gradient to exactly one source).
 */
export function spliceEmbeddings(tokenEmbeddings: Tensor, layout: SpliceLayout, projected: Tensor): Tensor {
  const [B, T, D] = tokenEmbeddings.shape as number[];
  if (B !== layout.batchSize || T !== layout.seqLen) {
    throw new Error(`token embeddings [${B}, ${T}] do not match the layout [${layout.batchSize}, ${layout.seqLen}]`);
  }
  checkProjected(layout, projected, D);
  if (layout.numProjectedRows === 0) return tokenEmbeddings.clone();
  return tf.tidy(() => {
    // One gather from [token embeddings; projected rows]: position p reads row p, or row B·T + r for a
    // placeholder fed by projected row r. An exact copy either way, and gather's gradient routes each
    // position's gradient to exactly one source (a `where` would need a full-width boolean mask).
    const index = new Int32Array(B * T);
    for (let p = 0; p < B * T; p++) index[p] = layout.sourceRows[p] >= 0 ? B * T + layout.sourceRows[p] : p;
    const both = tf.concat([tokenEmbeddings.reshape([B * T, D]), projected], 0);
    return tf.gather(both, tf.tensor1d(index, 'int32')).reshape([B, T, D]);
  });
}

/**
 * The whole merge: look up text tokens in the embedding table `[V, D]` and splice in the projected rows.
 * Uses the backend's fast path when one is registered (one pass, no intermediate `[B, T, D]` tensor).
 */
export function mergeEmbeddings(table: Tensor, layout: SpliceLayout, projected: Tensor): Tensor {
  checkProjected(layout, projected, table.shape[1] as number);
  const fast = fastMerge?.(table, layout, projected);
  if (fast) return fast;
  return tf.tidy(() => {
    const ids = tf.tensor2d(layout.tokenIds, [layout.batchSize, layout.seqLen], 'int32');
    return spliceEmbeddings(tf.gather(table, ids), layout, projected);
  });
}
