/**
 * Picks the fastest tfjs backend that works in this browser: webgpu → webgl → wasm → cpu.
 *
 * Isomorphic (no `node:` imports), but meant for browsers: Node uses `node/backend.ts`, which adds tfjs-node and
 * Dawn's WebGPU. Backends beyond cpu/webgl are imported dynamically so a page that ends up on webgl never
 * downloads the webgpu or wasm code.
 */
import { tf } from './tf.js';
import { registerWebGPUWithAdapterLimits } from './webgpu-limits.js';
import { installKernelFallbacks } from './backend-fallbacks.js';

/** tfjs backend names this project knows. `tensorflow` is tfjs-node's (Node only). */
export type BackendName = 'webgpu' | 'webgl' | 'wasm' | 'cpu' | 'tensorflow';

/** A backend that was tried and not used, with a reason a person can act on. */
export interface SkippedBackend<N extends string = BackendName> {
  name: N;
  reason: string;
}

/** Which backend is active now, and why the ones before it were passed over. */
export interface BackendSelection<N extends string = BackendName> {
  name: N;
  skipped: SkippedBackend<N>[];
  /** An engine running beside the tfjs backend (Node: `onnxruntime` for matmuls and frozen weights). */
  engine?: string;
}

/** Options for {@link selectBrowserBackend}. */
export interface BrowserBackendOptions {
  /** Order to try (default `['webgpu', 'webgl', 'wasm', 'cpu']`). */
  prefer?: BackendName[];
  /** Use exactly this backend; an error (with the reason) if it cannot start. */
  force?: BackendName;
  /**
   * Where the browser fetches `tfjs-backend-wasm*.wasm`, passed to `setWasmPaths`: a folder URL ending in `/`, or
   * a map from file name to URL (e.g. from vite `?url` imports). Needed under a bundler: vite does not emit those
   * files by itself, so without this the wasm backend 404s and is skipped.
   */
  wasmPaths?: string | WasmFileUrls;
  /**
   * Let the wasm backend use threads when the page is cross-origin isolated (default false). Measured: in a
   * minified vite build tfjs's threaded wasm never finishes initialising (its worker source is the factory's
   * `toString()`, which refers to mangled outer names: "e is not defined"); unminified, it works.
   */
  wasmThreads?: boolean;
  /** Give up on a backend whose initialisation has not finished after this long (default 30000 ms). */
  initTimeoutMs?: number;
  /** Progress lines ("trying webgpu", "webgpu skipped: …"); nothing is logged without it. */
  onLog?: (line: string) => void;
}

/** The wasm binaries tfjs-backend-wasm may fetch (plain, SIMD, SIMD + threads when cross-origin isolated). */
export type WasmFileUrls = Partial<Record<
  'tfjs-backend-wasm.wasm' | 'tfjs-backend-wasm-simd.wasm' | 'tfjs-backend-wasm-threaded-simd.wasm', string>>;

const DEFAULT_ORDER: BackendName[] = ['webgpu', 'webgl', 'wasm', 'cpu'];

/** Thrown by a backend attempt: its message becomes the skip reason. */
class Unavailable extends Error {}

/**
 * Tries backends in order, makes the first that works the active tfjs backend (`tf.setBackend` +
 * `await tf.ready()`), and reports the ones it passed over.
 *
 * @throws Error when `force` names a backend that cannot start, or when none in `prefer` can.
 */
export async function selectBrowserBackend(opts: BrowserBackendOptions = {}): Promise<BackendSelection> {
  const log = opts.onLog ?? (() => {});
  const order = opts.force ? [opts.force] : (opts.prefer ?? DEFAULT_ORDER);
  const skipped: SkippedBackend[] = [];
  for (const name of order) {
    log(`trying ${name}`);
    try {
      await tryBackend(name, opts);
      const sel = { name, skipped };
      log(describeSelection(sel));
      return sel;
    } catch (err) {
      const reason = err instanceof Unavailable ? err.message : `failed: ${errorText(err)}`;
      log(`${name} skipped: ${reason}`);
      if (opts.force) throw new Error(`backend "${name}" was forced but is unavailable: ${reason}`);
      skipped.push({ name, reason });
    }
  }
  throw new Error(`no tfjs backend could start (${skipped.map((s) => `${s.name}: ${s.reason}`).join('; ')})`);
}

/**
 * One line for logs and the page footer, e.g.
 * `backend: wasm (skipped webgpu: navigator.gpu missing (no WebGPU in this browser); webgl: …)`.
 */
export function describeSelection(sel: BackendSelection<string>): string {
  const skipped = sel.skipped.map((s) => `${s.name}: ${s.reason}`).join('; ');
  return `backend: ${sel.name}${sel.engine ? ` + ${sel.engine}` : ''}` + (skipped ? ` (skipped ${skipped})` : '');
}

async function tryBackend(name: BackendName, opts: BrowserBackendOptions): Promise<void> {
  switch (name) {
    case 'webgpu':
      await prepareWebGPU();
      break;
    case 'webgl':
      if (tf.findBackendFactory('webgl') === null) {
        throw new Unavailable('not registered (no WebGL in this environment: no DOM canvas)');
      }
      break;
    case 'wasm': {
      const wasm = await import('@tensorflow/tfjs-backend-wasm');
      if (opts.wasmPaths) wasm.setWasmPaths(opts.wasmPaths);
      if (!opts.wasmThreads) tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
      break;
    }
    case 'cpu':
      break;
    case 'tensorflow':
      throw new Unavailable('tfjs-node runs only in Node (use selectNodeBackend from node/backend.ts)');
    default:
      throw new Unavailable(`unknown backend name "${String(name)}" (known: ${DEFAULT_ORDER.join(', ')})`);
  }
  try {
    const hint = name === 'wasm' && opts.wasmThreads
      ? ' (threaded wasm in a minified bundle never starts: try wasmThreads: false)' : '';
    await activate(name, opts.initTimeoutMs ?? 30_000, hint);
  } catch (err) {
    if (name === 'wasm' && err instanceof Unavailable && err.message.includes('failed to initialise')) {
      throw new Unavailable(`${err.message}; are the tfjs-backend-wasm*.wasm files served? (option wasmPaths)`);
    }
    throw err;
  }
}

/** Checks what tfjs's webgpu factory would otherwise fail on with an opaque TypeError, then registers it. */
async function prepareWebGPU(): Promise<void> {
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  if (!nav?.gpu) {
    throw new Unavailable('navigator.gpu missing (no WebGPU in this browser, or the page is not a secure context)');
  }
  let adapter: GPUAdapter | null;
  try {
    adapter = await nav.gpu.requestAdapter({ powerPreference: 'high-performance' });
  } catch (err) {
    throw new Unavailable(`requestAdapter() threw: ${errorText(err)}`);
  }
  if (!adapter) throw new Unavailable('requestAdapter() returned null (no usable GPU adapter, or WebGPU blocklisted)');
  // The module registers the 'webgpu' factory at evaluation time, and only if navigator.gpu exists then.
  await import('@tensorflow/tfjs-backend-webgpu');
  if (tf.findBackendFactory('webgpu') === null) {
    throw new Unavailable('@tensorflow/tfjs-backend-webgpu loaded but did not register (was it imported before navigator.gpu existed?)');
  }
  await registerWebGPUWithAdapterLimits();
}

/** `tf.setBackend` swallows the init error (console.warn) and returns false; we re-raise it as a skip. */
async function activate(name: BackendName, timeoutMs: number, hint = ''): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      // A hung init stays tfjs's pending init and would make every later tf.ready() hang too; removing the
      // backend is tfjs's public way to abandon it (it cannot be used after this anyway).
      tf.removeBackend(name);
      reject(new Unavailable(`did not finish initialising within ${timeoutMs} ms${hint}`));
    }, timeoutMs);
  });
  const ok = await Promise.race([tf.setBackend(name), timeout]).finally(() => clearTimeout(timer));
  if (!ok) throw new Unavailable(`tf.setBackend('${name}') failed to initialise (see the console warning above)`);
  await tf.ready();
  if (tf.getBackend() !== name) throw new Unavailable(`tf.getBackend() is "${tf.getBackend()}" after setBackend`);
  installKernelFallbacks(name);
  if (name === 'webgpu') {
    // The fused WGSL embedding merge (and its gradient); the tfjs-op reference stays as the fallback.
    const { registerWebGPUKernels } = await import('../kernels/register.js');
    registerWebGPUKernels();
  }
}

function errorText(err: unknown): string {
  const msg = err instanceof Error ? err.message : typeof err === 'object' && err && 'message' in err
    ? String((err as { message: unknown }).message) : String(err);
  return msg.split('\n')[0] ?? msg;
}
