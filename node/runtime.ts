/**
 * Process setup shared by every command: pick the tfjs backend (printing the one line that says which and
 * why), then install the kernel fixes and fast paths that backend needs.
 */
import { tf } from '../src/tf.js';
import { installKernelFallbacks } from '../src/backend-fallbacks.js';
import { selectNodeBackend } from './backend.js';
import './index.js';

let ready: Promise<string> | null = null;

/** Selects the backend once per process (`--backend` beats `MULTI_TOKEN_BACKEND`); returns its tfjs name. */
export function initRuntime(opts: { backend?: string; quiet?: boolean } = {}): Promise<string> {
  ready ??= (async () => {
    const sel = await selectNodeBackend({ force: opts.backend, quiet: opts.quiet });
    installKernelFallbacks(sel.name);
    if (sel.name === 'webgpu') {
      try {
        const { registerWebGPUKernels } = await import('../kernels/register.js');
        registerWebGPUKernels();
      } catch (e) {
        process.stderr.write(`[multi-token] WebGPU kernels unavailable, using tfjs ops: ${(e as Error).message}\n`);
      }
    }
    return tf.getBackend();
  })();
  return ready;
}
