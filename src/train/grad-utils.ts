import { tf, type Tensor } from '../tf.js';

/**
 * Scales gradients in place so their global L2 norm is at most `maxNorm` (PyTorch's `clip_grad_norm_`,
 * HF's `max_grad_norm`). Returns the norm before clipping; Infinity/NaN signal a blown-up step.
 */
export function clipGradNorm(grads: Map<string, Tensor>, maxNorm: number): number {
  const norm = tf.tidy(() => tf.sqrt(tf.addN([...grads.values()].map((g) => tf.sum(tf.square(g)))))).dataSync()[0];
  if (maxNorm > 0 && Number.isFinite(norm) && norm > maxNorm) {
    const scale = maxNorm / (norm + 1e-6);
    for (const [k, g] of grads) {
      grads.set(k, tf.mul(g, scale));
      g.dispose();
    }
  }
  return norm;
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
