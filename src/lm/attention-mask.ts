import { tf, type Tensor } from '../tf.js';

/** Added to the scores of positions a query may not see. Large enough that exp() underflows to 0 in f32. */
export const MASKED = -1e9;

/**
 * The additive attention mask `[B, 1, T, S]` for `T` new queries over `S = pastLength + T` keys: causal by
 * position in the sequence, optionally limited to a sliding window (Mistral), and hiding padded keys
 * (`paddingMask[b][s] === 0`). A fully masked query row (a left-pad query) stays finite: its softmax is
 * uniform and its output is ignored.
 *
 * Built in a plain array on the CPU: the same mask from broadcast boolean tensor ops cost more than the
 * attention itself on the wasm backend.
 */
export function buildAttentionMask(paddingMask: number[][], queryLength: number, pastLength: number, slidingWindow: number | null): Tensor {
  const b = paddingMask.length;
  const s = pastLength + queryLength;
  const data = new Float32Array(b * queryLength * s);
  for (let i = 0; i < b; i++) {
    const row = paddingMask[i];
    if (row.length !== s) throw new Error(`attention mask covers ${row.length} positions, expected past ${pastLength} + new ${queryLength}`);
    for (let q = 0; q < queryLength; q++) {
      const qi = pastLength + q;
      const base = (i * queryLength + q) * s;
      for (let k = 0; k < s; k++) {
        const visible = k <= qi && row[k] > 0 && (slidingWindow === null || qi - k < slidingWindow);
        if (!visible) data[base + k] = MASKED;
      }
    }
  }
  return tf.tensor4d(data, [b, 1, queryLength, s]);
}

/**
 * Position ids from a padding mask, as Hugging Face computes them for left-padded batches:
 * `cumsum(mask) - 1`, with padded positions set to 1. Returns the last `queryLength` columns.
 */
export function positionsFromMask(mask: number[][], queryLength: number): number[][] {
  return mask.map((row) => {
    const out: number[] = new Array(row.length);
    let c = 0;
    for (let i = 0; i < row.length; i++) {
      c += row[i] ? 1 : 0;
      out[i] = row[i] ? c - 1 : 1;
    }
    return out.slice(row.length - queryLength);
  });
}
