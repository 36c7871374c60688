import { tf, type Tensor } from '../tf.js';

/** Added to the scores of positions a query may not see. Large enough that exp() underflows to 0 in f32. */
export const MASKED = -1e9;

/**
 * The additive attention mask `[B, 1, T, S]` for `T` new queries over `S = pastLength + T` keys: causal by
 * position in the sequence, optionally limited to a sliding window (Mistral), and hiding padded keys
 * (`paddingMask[b][s] === 0`). A fully masked query row (a left-pad query) stays finite: its softmax is
 * uniform and its output is ignored.
 */
export function buildAttentionMask(
  paddingMask: Tensor, // [B, S] int32 or float 0/1
  queryLength: number,
  pastLength: number,
  slidingWindow: number | null,
): Tensor {
  return tf.tidy(() => {
    const [b, s] = paddingMask.shape;
    if (s !== pastLength + queryLength) {
      throw new Error(`attention mask covers ${s} positions, expected past ${pastLength} + new ${queryLength}`);
    }
    const qIdx = tf.range(pastLength, pastLength + queryLength, 1, 'int32').reshape([queryLength, 1]);
    const kIdx = tf.range(0, s, 1, 'int32').reshape([1, s]);
    let allowed = tf.lessEqual(kIdx, qIdx);
    if (slidingWindow !== null) allowed = tf.logicalAnd(allowed, tf.less(tf.sub(qIdx, kIdx), slidingWindow));
    const keyOk = tf.greater(paddingMask, 0).reshape([b, 1, 1, s]);
    const both = tf.logicalAnd(allowed.reshape([1, 1, queryLength, s]), keyOk);
    return tf.mul(tf.sub(1, tf.cast(both, 'float32')), MASKED);
  });
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
