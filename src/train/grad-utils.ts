import { tf, type Tensor } from '../tf.js';
import { addNChunked } from './device-limits.js';

/**
 * Global L2 norm of all gradients, computed on the device (no read): per-tensor sums of squares, added in
 * chunks that fit the device's storage-buffer limit.
 */
export function globalGradNorm(grads: Iterable<Tensor>): tf.Scalar {
  const list = [...grads];
  if (list.length === 0) return tf.scalar(0);
  return tf.tidy(() => tf.sqrt(addNChunked(list.map((g) => tf.sum(tf.square(g))))) as tf.Scalar);
}

/**
 * PyTorch's `clip_grad_norm_` (HF's `max_grad_norm`) without reading the GPU: every gradient is multiplied by
 * `min(1, maxNorm / (norm + 1e-6))`, as PyTorch does, so the scale never has to reach the CPU. Gradients are
 * replaced in the map (old ones disposed). Returns the norm before clipping, as a scalar the caller owns;
 * Infinity/NaN signal a blown-up step. `maxNorm <= 0` only measures.
 */
export function clipGradNorm(grads: Map<string, Tensor>, maxNorm: number): tf.Scalar {
  const norm = globalGradNorm(grads.values());
  if (maxNorm > 0) {
    const scale = tf.tidy(() => tf.minimum(tf.div(tf.scalar(maxNorm), tf.add(norm, 1e-6)), 1));
    for (const [k, g] of grads) {
      grads.set(k, tf.mul(g, scale));
      g.dispose();
    }
    scale.dispose();
  }
  return norm;
}

/**
 * `clip_grad_norm_` for backends where reading is cheap (see `readsAreCheap`): `norm` was read already, and the
 * gradients are scaled only when it is above `maxNorm`, by `maxNorm / (norm + 1e-6)` computed in double precision.
 */
export function clipGradsBy(grads: Map<string, Tensor>, norm: number, maxNorm: number): void {
  if (!(maxNorm > 0) || !Number.isFinite(norm) || norm <= maxNorm) return;
  const scale = maxNorm / (norm + 1e-6);
  for (const [k, g] of grads) {
    grads.set(k, tf.mul(g, scale));
    g.dispose();
  }
}

/** Adds `b` into the accumulator map `acc` (taking ownership of b's tensors). */
export function accumulate(acc: Map<string, Tensor>, b: Record<string, Tensor>, names: Map<string, string>): void {
  for (const [id, g] of Object.entries(b)) {
    const name = names.get(id);
    if (!name) {
      g.dispose();
      continue;
    }
    const prev = acc.get(name);
    if (prev) {
      acc.set(name, tf.add(prev, g));
      prev.dispose();
      g.dispose();
    } else {
      acc.set(name, g);
    }
  }
}
