import { tf, type Tensor } from '../tf.js';

/** What one optimizer step measured, once read from the device. */
export interface StepStats {
  /** The step's number after it ran (1 for the first update). */
  step: number;
  loss: number;
  gradNorm: number;
  lr: number;
  tokens: number;
}

interface Pending {
  step: number;
  /** `[loss, gradNorm]` on the device. */
  values: Tensor;
  lr: number;
  tokens: number;
}

/**
 * Per-step numbers that stay on the device until they are needed. Reading a GPU tensor stalls the queue (and a
 * synchronous read on WebGPU is not supported at all: in Chromium it returned zeros and lost the device), so the
 * trainer reads the losses and gradient norms of many steps with one `await data()` — at a logging step, before a
 * checkpoint, at the end. Holds two tensors per pending step; `read()` frees them.
 */
export class PendingStepStats {
  private pending: Pending[] = [];

  get size(): number {
    return this.pending.length;
  }

  /** Keeps `[loss, gradNorm]` of a step (taking ownership of `loss` and `gradNorm`). */
  push(step: number, loss: Tensor, gradNorm: Tensor, lr: number, tokens: number): void {
    const values = tf.tidy(() => tf.stack([tf.reshape(loss, []), tf.reshape(gradNorm, [])]));
    loss.dispose();
    gradNorm.dispose();
    this.pending.push({ step, values, lr, tokens });
  }

  /** Reads every pending step with a single download and frees their tensors. */
  async read(): Promise<StepStats[]> {
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return [];
    // tf.concat splits itself at the storage-buffer limit on WebGPU.
    const all = batch.length === 1 ? batch[0].values : tf.concat(batch.map((p) => p.values));
    try {
      const data = await all.data();
      return batch.map((p, i) => ({ step: p.step, loss: data[2 * i], gradNorm: data[2 * i + 1], lr: p.lr, tokens: p.tokens }));
    } finally {
      if (all !== batch[0].values) all.dispose();
      for (const p of batch) p.values.dispose();
    }
  }

  dispose(): void {
    for (const p of this.pending) p.values.dispose();
    this.pending = [];
  }
}
