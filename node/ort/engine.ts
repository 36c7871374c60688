/**
 * The Node CPU engine: tfjs (wasm or cpu backend) for the model's many small ops, onnxruntime-node for the
 * matmul family and for Linear weights held outside tfjs memory (f32/f16 buffers, int8/int4 MatMulNBits).
 * `installOrtEngine` is called by backend selection (node/backend.ts) after the tfjs backend is active.
 */
import { tf } from '../../src/tf.js';
import { linearOptions } from '../../src/nn/linear.js';
import { configurePlatform } from '../../src/platform.js';
import { installOrtMatMul, uninstallOrtMatMul } from './matmul-kernels.js';
import { placeOrtWeight, registerFrozenMatMulKernel } from './frozen-weights.js';

const installed = new Set<string>();

/** Whether the engine is installed on the tfjs backend `backendName`. */
export function ortEngineActive(backendName = tf.getBackend()): boolean {
  return installed.has(backendName);
}

/**
 * Routes the matmul family of `backendName` (wasm or cpu) through onnxruntime. Idempotent. Throws for a
 * backend it cannot serve.
 */
export function installOrtEngine(backendName: string): void {
  if (installed.has(backendName)) return;
  if (!installOrtMatMul(backendName)) throw new Error(`the onnxruntime engine runs on the wasm or cpu tfjs backend, not "${backendName}"`);
  // ORT takes Wᵀ as an attribute: a pretransposed copy of every weight would only double their memory.
  linearOptions.pretranspose.delete(backendName);
  registerFrozenMatMulKernel(backendName);
  configurePlatform({ frozenWeights: (name, src, dtype, opts) => (ortEngineActive() ? placeOrtWeight(name, src, dtype, opts) : null) });
  installed.add(backendName);
}

/**
 * Removes the engine from `backendName` (its own kernels come back; models loaded with frozen weights keep
 * working, since their kernel stays registered).
 */
export function uninstallOrtEngine(backendName: string): void {
  if (!installed.has(backendName)) return;
  uninstallOrtMatMul(backendName);
  if (backendName === 'wasm') linearOptions.pretranspose.add('wasm');
  installed.delete(backendName);
}
