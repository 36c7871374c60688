import { tf, type Tensor } from '../tf.js';

import { IGNORE_INDEX } from '../constants.js';

export { IGNORE_INDEX };

/**
 * Next-token cross-entropy: logits at position t predict labels at t+1; labels equal to `IGNORE_INDEX` are
 * skipped, and the mean is over the counted positions (as PyTorch's `CrossEntropyLoss(reduction='mean')`).
 *
 * logits `[B, T, V]` float; labels `[B][T]`. Returns a scalar; 0 when no position counts.
 */
export function causalLMLoss(logits: Tensor, labels: number[][]): { loss: Tensor; count: number } {
  const [b, t, v] = logits.shape;
  if (labels.length !== b || labels.some((r) => r.length !== t)) {
    throw new Error(`labels must be [${b}][${t}] to match logits [${logits.shape}]`);
  }
  // Gather only the counted positions on the CPU side: index = row*(T-1)*V + pos*V + label.
  const rows: number[] = [];
  const targets: number[] = [];
  for (let i = 0; i < b; i++) {
    for (let j = 0; j < t - 1; j++) {
      const y = labels[i][j + 1];
      if (y === IGNORE_INDEX) continue;
      if (!Number.isInteger(y) || y < 0 || y >= v) throw new Error(`label ${y} at [${i}][${j + 1}] outside vocab ${v}`);
      rows.push(i * t + j);
      targets.push(y);
    }
  }
  const count = rows.length;
  if (count === 0) return { loss: tf.scalar(0), count };
  const loss = tf.tidy(() => {
    const flat = logits.reshape([b * t, v]);
    const picked = tf.gather(flat, tf.tensor1d(rows, 'int32')); // [N, V]
    const logp = tf.logSoftmax(picked, -1);
    // Pick each row's target with a one-hot product: its gradient is elementwise, where a second gather's
    // would be a scatter over N·V segments.
    const target = tf.sum(tf.mul(logp, tf.oneHot(tf.tensor1d(targets, 'int32'), v)), -1);
    return tf.neg(tf.mean(target));
  });
  return { loss, count };
}
