import { tf } from '../tf.js';

/**
 * How many tensors one kernel may read on the active backend. A WebGPU compute shader binds each input and its
 * output as a storage buffer, and a device allows only `maxStorageBuffersPerShaderStage` of them (8 by default,
 * what tfjs asks for unless the adapter's limits are requested, see `webgpu-device.ts`): `tf.addN` over 60
 * gradients builds an invalid pipeline there and yields garbage. tfjs's own concat splits at this limit; addN
 * does not. Other backends have no such limit (WebGL's addN splits by itself).
 */
export function maxKernelInputs(): number {
  const backend = tf.engine().backend as { device?: { limits?: { maxStorageBuffersPerShaderStage?: number } } };
  const limit = backend.device?.limits?.maxStorageBuffersPerShaderStage;
  return typeof limit === 'number' && limit > 2 ? limit - 1 : Number.POSITIVE_INFINITY;
}

/**
 * Whether the active backend keeps tensors in host memory (cpu, wasm): reading a value there costs a copy, not a
 * wait for a device queue, while on-device substitutes for a read (a gate of `where`s per parameter) are slow
 * (wasm's select has no SIMD path: it tripled AdamW's time, bench/train-gate.ts). GPU backends (webgpu, webgl,
 * tfjs-node-gpu's `tensorflow`) answer false.
 */
export function readsAreCheap(): boolean {
  const name = tf.getBackend();
  return name === 'cpu' || name === 'wasm';
}

/**
 * Sums same-shaped tensors with `addN` in chunks of at most `maxInputs` (a tree of addN calls), so a reduction
 * over any number of tensors stays within the device's storage-buffer limit. The inputs are not disposed.
 */
export function addNChunked(tensors: tf.Tensor[], maxInputs = maxKernelInputs()): tf.Tensor {
  if (tensors.length === 0) throw new Error('addNChunked: no tensors');
  const width = Math.max(2, Math.floor(maxInputs));
  return tf.tidy(() => {
    let level = tensors;
    while (level.length > 1) {
      const next: tf.Tensor[] = [];
      for (let i = 0; i < level.length; i += width) {
        const group = level.slice(i, i + width);
        next.push(group.length === 1 ? group[0] : tf.addN(group));
      }
      level = next;
    }
    // A lone input comes back as a new tensor, so the caller may always dispose the result.
    return level[0] === tensors[0] ? tf.clone(level[0]) : level[0];
  });
}
