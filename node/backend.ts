/**
 * Backend selection for Node: tfjs-node-gpu (CUDA) → tfjs-node → wasm → cpu, plus Dawn's WebGPU on request.
 *
 * The tfjs-node packages are optional: their install script downloads libtensorflow from outside the npm
 * registry, so they are absent on most machines and are imported by a computed specifier (TypeScript must not
 * resolve them). Both register the tfjs backend name `tensorflow`.
 *
 * wasm in Node is single-threaded: tfjs disables WASM_HAS_MULTITHREAD_SUPPORT under Node, and forcing it on
 * makes init fail (its pthread workers are `blob:` URLs, which Node's Worker refuses). SIMD is used.
 *
 * Without tfjs-node the default is the Node CPU engine: a tfjs CPU backend for the many small ops plus
 * onnxruntime-node (bundled with transformers.js) for the matmul family and for Linear weights held outside tfjs
 * memory (f16, int8, int4), see node/ort/. `wasm+onnxruntime` / `cpu+onnxruntime` force a host; plain `wasm`
 * and `cpu` run without it.
 */
import { tf } from '../src/tf.js';
import { installKernelFallbacks } from '../src/backend-fallbacks.js';
import { describeSelection, type BackendSelection } from '../src/backend.js';
import { initNodeWebGPU } from './webgpu-node.js';
import { registerWebGPUWithAdapterLimits } from '../src/webgpu-limits.js';

/** What `--backend` / `MULTI_TOKEN_BACKEND` may name. `auto` (or empty) means "best available". */
export const NODE_BACKEND_CHOICES = [
  'auto', 'tensorflow', 'tfjs-node-gpu', 'tfjs-node', 'onnxruntime', 'wasm+onnxruntime', 'cpu+onnxruntime', 'wasm', 'cpu', 'webgpu',
] as const;

/** The tfjs backend the onnxruntime engine sits on by default (measured in bench/RESULTS.md, "Node CPU engine"). */
export const ORT_DEFAULT_HOST: 'wasm' | 'cpu' = 'wasm';

/** Options for {@link selectNodeBackend}. */
export interface NodeBackendOptions {
  /** A name from {@link NODE_BACKEND_CHOICES}; defaults to `$MULTI_TOKEN_BACKEND`. A CLI passes `--backend` here. */
  force?: string;
  /** Print nothing (by default one line goes to stderr). */
  quiet?: boolean;
}

type Candidate = 'tfjs-node-gpu' | 'tfjs-node' | 'wasm+onnxruntime' | 'cpu+onnxruntime' | 'wasm' | 'cpu' | 'webgpu';
const AUTO_ORDER: Candidate[] = ['tfjs-node-gpu', 'tfjs-node', `${ORT_DEFAULT_HOST}+onnxruntime`, 'wasm', 'cpu'];

/** Thrown by an attempt: its message becomes the skip reason. */
class Unavailable extends Error {}

/**
 * Makes the best available backend the active tfjs backend and prints
 * `[multi-token] backend: wasm (skipped tfjs-node-gpu: not installed …; tfjs-node: not installed …)` to stderr.
 *
 * The returned `name` is the tfjs backend name (`tensorflow`, `wasm`, `cpu`, `webgpu`); `skipped` names the
 * candidates (`tfjs-node-gpu`, `tfjs-node`, …), since two of them share the backend name `tensorflow`.
 *
 * @throws Error for an unknown forced name, or a forced backend that cannot start (with the reason).
 */
export async function selectNodeBackend(opts: NodeBackendOptions = {}): Promise<BackendSelection<string>> {
  const fromFlag = opts.force !== undefined;
  const forced = (opts.force ?? process.env.MULTI_TOKEN_BACKEND ?? '').trim().toLowerCase();
  const source = fromFlag ? '--backend' : 'MULTI_TOKEN_BACKEND';
  if (forced && !(NODE_BACKEND_CHOICES as readonly string[]).includes(forced)) {
    throw new Error(`unknown backend "${forced}" (from ${source}); choose one of: ${NODE_BACKEND_CHOICES.join(', ')}`);
  }
  const order: Candidate[] =
    !forced || forced === 'auto' ? AUTO_ORDER
      : forced === 'tensorflow' ? ['tfjs-node-gpu', 'tfjs-node']
        : forced === 'onnxruntime' ? [`${ORT_DEFAULT_HOST}+onnxruntime`]
          : [forced as Candidate];

  const skipped: { name: string; reason: string }[] = [];
  for (const candidate of order) {
    try {
      const name = await tryCandidate(candidate);
      const sel: BackendSelection<string> = candidate.endsWith('+onnxruntime') ? { name, skipped, engine: 'onnxruntime' } : { name, skipped };
      if (!opts.quiet) process.stderr.write(`[multi-token] ${describeSelection(sel)}\n`);
      return sel;
    } catch (err) {
      skipped.push({ name: candidate, reason: err instanceof Unavailable ? err.message : `failed: ${errorText(err)}` });
    }
  }
  const why = skipped.map((s) => `${s.name}: ${s.reason}`).join('; ');
  if (forced && forced !== 'auto') throw new Error(`backend "${forced}" (from ${source}) is unavailable: ${why}`);
  throw new Error(`no tfjs backend could start: ${why}`);
}

/**
 * Reads `--backend <name>` or `--backend=<name>` from an argv array (for small scripts and benches that do
 * not use the CLI parser). Returns undefined when absent, so the env var applies.
 */
export function backendFlag(argv: readonly string[] = process.argv): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--backend') return argv[i + 1];
    if (a.startsWith('--backend=')) return a.slice('--backend='.length);
  }
  return undefined;
}

/** Starts one candidate and returns the tfjs backend name now active. */
async function tryCandidate(candidate: Candidate): Promise<string> {
  const { installOrtEngine, uninstallOrtEngine } = await import('./ort/engine.js');
  if (candidate.endsWith('+onnxruntime')) {
    const host = candidate === 'cpu+onnxruntime' ? 'cpu' : 'wasm';
    const name = await tryCandidate(host);
    try {
      installOrtEngine(name);
    } catch (e) {
      throw new Unavailable(`onnxruntime-node did not start: ${errorText(e)}`);
    }
    return name;
  }
  // A plain wasm/cpu after the engine ran on it in this process: put the backend's own kernels back.
  if (candidate === 'wasm' || candidate === 'cpu') uninstallOrtEngine(candidate);
  switch (candidate) {
    case 'tfjs-node-gpu':
      await importOptional('@tensorflow/tfjs-node-gpu', 'npm i --ignore-scripts=false @tensorflow/tfjs-node-gpu on a CUDA machine');
      return activate('tensorflow');
    case 'tfjs-node':
      await importOptional('@tensorflow/tfjs-node', 'npm i --ignore-scripts=false @tensorflow/tfjs-node');
      return activate('tensorflow');
    case 'wasm':
      // Node's main entry is a CJS bundle that finds its .wasm files beside itself in node_modules.
      await import('@tensorflow/tfjs-backend-wasm');
      return activate('wasm');
    case 'cpu':
      return activate('cpu');
    case 'webgpu': {
      const gpu = await initNodeWebGPU();
      if (!gpu.ok) throw new Unavailable(gpu.reason);
      // Must come after initNodeWebGPU: the module registers 'webgpu' only if navigator.gpu exists by then.
      await import('@tensorflow/tfjs-backend-webgpu');
      if (tf.findBackendFactory('webgpu') === null) {
        throw new Unavailable('@tensorflow/tfjs-backend-webgpu was imported before navigator.gpu existed, so it did not register');
      }
      await registerWebGPUWithAdapterLimits();
      return activate('webgpu');
    }
    default:
      throw new Unavailable(`unknown candidate ${candidate}`);
  }
}

/** Imports an optional package; a missing package becomes a clean "not installed" reason. */
async function importOptional(specifier: string, installHint: string): Promise<void> {
  try {
    await import(specifier);
  } catch (err) {
    const code = (err as { code?: string }).code;
    const missing = (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && errorText(err).includes(specifier);
    throw new Unavailable(missing ? `not installed (${installHint})` : `installed but failed to load: ${errorText(err)}`);
  }
  if (tf.findBackendFactory('tensorflow') === null) {
    // tfjs-node registered itself on its own copy of @tensorflow/tfjs-core, not the one src/tf.ts uses.
    throw new Unavailable(`${specifier} loaded but registered on another @tensorflow/tfjs-core copy (version mismatch with @tensorflow/tfjs ${tf.version.tfjs}?)`);
  }
}

async function activate(name: string): Promise<string> {
  if (!(await tf.setBackend(name))) throw new Unavailable(`tf.setBackend('${name}') failed to initialise (see the warning above)`);
  await tf.ready();
  // Kernels training needs that the backend lacks or runs slowly (gather's gradient, transposed matmuls).
  installKernelFallbacks(name);
  if (name === 'webgpu') {
    const { registerWebGPUKernels } = await import('../kernels/register.js');
    registerWebGPUKernels();
  }
  if (name === 'cpu') {
    // The cpu backend prints a multi-line "install tfjs-node" banner on first use; our line already says so.
    const cpu = tf.findBackend('cpu') as { firstUse?: boolean } | null;
    if (cpu && 'firstUse' in cpu) cpu.firstUse = false;
  }
  return name;
}

function errorText(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.split('\n')[0] ?? msg;
}
