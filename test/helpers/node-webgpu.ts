/**
 * WebGPU in Node (Dawn on SwiftShader) for a test file's `before`: starts it and returns why it cannot run — a
 * reason for `skipMissingTool` (missing-tool.ts), which skips, or fails under MULTI_TOKEN_REQUIRE_ALL=1 — or false.
 */
import { initNodeWebGPU } from '../../node/webgpu-node.js';
import { tf } from '../../src/tf.js';
import { registerWebGPUKernels } from '../../kernels/register.js';

/** With `tfjsBackend`, also makes tfjs's webgpu backend current with the project's kernels registered. */
export async function startNodeWebGPU(opts: { tfjsBackend?: boolean } = {}): Promise<string | false> {
  const status = await initNodeWebGPU();
  if (!status.ok) return `no WebGPU in Node: ${status.reason}`;
  if (!opts.tfjsBackend) return false;
  await import('@tensorflow/tfjs-backend-webgpu');
  if (!(await tf.setBackend('webgpu'))) return 'tfjs webgpu backend failed to initialise';
  registerWebGPUKernels();
  return false;
}
