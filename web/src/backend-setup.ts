/**
 * One call that gets a page ready to run models: installs the browser's platform, picks the tfjs backend,
 * installs the kernel fallbacks the model code needs on it, and registers the project's WGSL kernels when the
 * backend is WebGPU.
 */
import { selectBrowserBackend, describeSelection, type BackendName, type SkippedBackend } from '../../src/backend.js';
import { installKernelFallbacks } from '../../src/backend-fallbacks.js';
import { TFJS_WASM_PATHS } from './wasm-paths.js';
import { useOrtWasm, type OrtWasmPaths } from './ort-wasm.js';
import { configurePlatform } from '../../src/platform.js';
import { BROWSER_PLATFORM } from './browser-platform.js';

/**
 * Order the demo tries backends in. wasm comes before webgl on purpose: for batch-1 decoding of a language model
 * tfjs's WebGL backend pays a texture round trip per op and rounds to fp16 on many phone GPUs, and on a CPU
 * (SwiftShader) it measured ~15× slower than SIMD wasm here (docs/backends.md). `force: 'webgl'` still works.
 */
export const PAGE_BACKEND_ORDER: BackendName[] = ['webgpu', 'wasm', 'webgl', 'cpu'];

/** Options for {@link initBrowserBackend}. */
export interface InitBackendOptions {
  /** Use exactly this backend (an error if it cannot start). */
  force?: BackendName;
  /** Order to try (default {@link PAGE_BACKEND_ORDER}). */
  prefer?: BackendName[];
  /** Progress lines ("trying webgpu", "webgpu skipped: …"). */
  onLog?: (line: string) => void;
  /**
   * Where onnxruntime-web fetches its wasm (audio preprocessing and ONNX encoders need it); default: the files
   * shipped with this build (see ort-wasm.ts).
   */
  ortWasmPaths?: OrtWasmPaths;
}

/** What {@link initBrowserBackend} chose. */
export interface BackendSetup {
  /** The active tfjs backend. */
  name: BackendName;
  /** Backends passed over, with the reason. */
  skipped: SkippedBackend[];
  /** One line for a footer: `backend: wasm (skipped webgpu: …)`. */
  summary: string;
  /** Whether the project's WGSL kernels are in use (WebGPU only), or why not. */
  kernels: 'registered' | 'not webgpu' | `unavailable: ${string}`;
}

/**
 * Installs the browser platform (browser-platform.ts), selects a backend with the bundled wasm binaries, installs
 * kernel fallbacks (wasm and cpu lack kernels the models use), points onnxruntime-web at its shipped wasm and, on
 * WebGPU, registers the WGSL splice kernels. The kernels module is imported lazily so a page that ends up on wasm
 * never downloads it, and defensively: the model still runs on the reference ops without it.
 */
export async function initBrowserBackend(opts: InitBackendOptions = {}): Promise<BackendSetup> {
  configurePlatform(BROWSER_PLATFORM);
  useOrtWasm(opts.ortWasmPaths);
  const sel = await selectBrowserBackend({
    force: opts.force,
    prefer: opts.prefer ?? PAGE_BACKEND_ORDER,
    wasmPaths: TFJS_WASM_PATHS,
    onLog: opts.onLog,
  });
  installKernelFallbacks(sel.name);
  let kernels: BackendSetup['kernels'] = 'not webgpu';
  if (sel.name === 'webgpu') {
    try {
      const mod = (await import('../../kernels/register.js')) as { registerWebGPUKernels?: () => void };
      if (typeof mod.registerWebGPUKernels !== 'function') throw new Error('kernels/register.js has no registerWebGPUKernels');
      mod.registerWebGPUKernels();
      kernels = 'registered';
    } catch (e) {
      kernels = `unavailable: ${(e as Error).message}`;
      opts.onLog?.(`WGSL kernels not registered (using reference ops): ${(e as Error).message}`);
    }
  }
  return { name: sel.name, skipped: sel.skipped, summary: describeSelection(sel), kernels };
}
