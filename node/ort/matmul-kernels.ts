/**
 * The matmul family of tfjs kernels (`BatchMatMul`, `_FusedMatMul`) on the wasm and cpu backends, run by
 * onnxruntime's MLAS GEMM (8–10× tfjs-wasm here, multi-threaded). tfjs's gradients of matmuls are matmuls, so
 * training runs through it too. Operands are read in place and the result is written into the tfjs output;
 * transposes are attributes of ORT's `FusedMatMul`, never copies.
 *
 * Tiny products stay on the backend's own kernel, where the ~10 µs ORT call would dominate.
 */
import { tf } from '../../src/tf.js';
import { OrtSession, ortTensor } from './binding.js';
import { matMulGraph } from './graphs.js';
import { kernelMemory, type KernelMemory } from './tensor-access.js';

/** Multiply-adds below which a product stays on the backend's kernel (per backend: cpu's own kernel is slow). */
const MIN_WORK: Record<string, number> = { wasm: 16_384, cpu: 512 };

const sessions = new Map<string, OrtSession>();

/** The shared `FusedMatMul` session for a transpose combination (created on first use). */
export function matMulSession(transA: boolean, transB: boolean, bType: 'float32' | 'float16' = 'float32'): OrtSession {
  const key = `${+transA}${+transB}${bType}`;
  let s = sessions.get(key);
  if (!s) {
    s = new OrtSession(matMulGraph(transA, transB, bType), `FusedMatMul(transA=${+transA}, transB=${+transB}, B ${bType})`);
    sessions.set(key, s);
  }
  return s;
}

interface MatMulAttrs {
  transposeA: boolean;
  transposeB: boolean;
}

/** tfjs/numpy broadcast of the batch dims, then `[M, N]`; null when the shapes do not multiply. */
function outputShape(a: number[], b: number[], at: MatMulAttrs): number[] | null {
  const [m, ka] = at.transposeA ? [a[a.length - 1], a[a.length - 2]] : [a[a.length - 2], a[a.length - 1]];
  const [kb, n] = at.transposeB ? [b[b.length - 1], b[b.length - 2]] : [b[b.length - 2], b[b.length - 1]];
  if (ka !== kb) return null;
  const ba = a.slice(0, -2);
  const bb = b.slice(0, -2);
  const rank = Math.max(ba.length, bb.length);
  const batch: number[] = [];
  for (let i = 0; i < rank; i++) {
    const x = ba[ba.length - rank + i] ?? 1;
    const y = bb[bb.length - rank + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) return null;
    batch.push(x === 1 ? y : x);
  }
  return [...batch, m!, n!];
}

/** Runs `a·b` through ORT into a new tfjs output, or returns null to leave it to the backend's kernel. */
function ortMatMul(mem: KernelMemory, a: tf.TensorInfo, b: tf.TensorInfo, at: MatMulAttrs, minWork: number): tf.TensorInfo | null {
  if (a.dtype !== 'float32' || b.dtype !== 'float32' || a.shape.length < 2 || b.shape.length < 2) return null;
  const shape = outputShape(a.shape, b.shape, at);
  if (!shape) return null; // let tfjs raise its own shape error
  const k = at.transposeA ? a.shape[a.shape.length - 2] : a.shape[a.shape.length - 1];
  const outSize = shape.reduce((p, c) => p * c, 1);
  if (outSize * k! < minWork || outSize === 0) return null;
  const out = mem.output(shape);
  // Views are taken after the output exists: allocating can move (detach) wasm memory.
  matMulSession(at.transposeA, at.transposeB).run(
    { a: ortTensor('float32', mem.view(a), a.shape), b: ortTensor('float32', mem.view(b), b.shape) },
    { y: ortTensor('float32', out.values(), shape) },
  );
  return out.info;
}

type KernelFunc = tf.KernelConfig['kernelFunc'];

/** The kernels replaced per backend, so the engine can be removed again (`--backend wasm` after ORT). */
const originals = new Map<string, tf.KernelConfig[]>();

function replaceKernel(kernelName: string, backendName: string, make: (orig: KernelFunc) => KernelFunc): void {
  const orig = tf.getKernel(kernelName, backendName);
  if (!orig) return;
  tf.unregisterKernel(kernelName, backendName);
  tf.registerKernel({ ...orig, kernelFunc: make(orig.kernelFunc) });
  originals.set(backendName, [...(originals.get(backendName) ?? []), orig]);
}

/** Puts back the backend's own matmul kernels. */
export function uninstallOrtMatMul(backendName: string): void {
  for (const k of originals.get(backendName) ?? []) {
    tf.unregisterKernel(k.kernelName, backendName);
    tf.registerKernel(k);
  }
  originals.delete(backendName);
}

/** Activations `_FusedMatMul` may carry, as the backend kernels that apply them. */
const ACTIVATION_KERNEL: Record<string, string> = {
  relu: 'Relu', relu6: 'Relu6', elu: 'Elu', sigmoid: 'Sigmoid', leakyrelu: 'LeakyRelu', prelu: 'Prelu',
};

/** Installs the ORT matmuls for `backendName` (wasm or cpu). Returns false for other backends. */
export function installOrtMatMul(backendName: string): boolean {
  const minWork = MIN_WORK[backendName];
  if (minWork === undefined) return false;
  replaceKernel('BatchMatMul', backendName, (orig) => (args) => {
    const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const mem = kernelMemory(backendName, args.backend)!;
    return ortMatMul(mem, a, b, args.attrs as unknown as MatMulAttrs, minWork) ?? (orig(args) as tf.TensorInfo);
  });
  replaceKernel('_FusedMatMul', backendName, (orig) => (args) => {
    const { a, b, bias, preluActivationWeights } = args.inputs as Record<string, tf.TensorInfo | undefined>;
    const attrs = args.attrs as unknown as MatMulAttrs & { activation: string; leakyreluAlpha?: number };
    const mem = kernelMemory(backendName, args.backend)!;
    const product = ortMatMul(mem, a!, b!, attrs, minWork);
    if (!product) return orig(args) as tf.TensorInfo;
    const backend = args.backend as { disposeIntermediateTensorInfo?(t: tf.TensorInfo): void; disposeData(id: object, force?: boolean): void };
    const run = (kernel: string, inputs: Record<string, tf.TensorInfo>, attrsOf: object = {}) =>
      tf.getKernel(kernel, backendName)!.kernelFunc({ inputs, attrs: attrsOf as never, backend: args.backend }) as tf.TensorInfo;
    const drop = (t: tf.TensorInfo) => backend.disposeData(t.dataId, true);
    let y = product;
    if (bias) {
      const z = run('Add', { a: y, b: bias });
      drop(y);
      y = z;
    }
    const act = attrs.activation && attrs.activation !== 'linear' ? ACTIVATION_KERNEL[attrs.activation] : undefined;
    if (attrs.activation && attrs.activation !== 'linear' && !act) throw new Error(`_FusedMatMul: unknown activation "${attrs.activation}"`);
    if (act) {
      const z = act === 'Prelu' ? run(act, { x: y, alpha: preluActivationWeights! }) : run(act, { x: y }, { alpha: attrs.leakyreluAlpha });
      drop(y);
      y = z;
    }
    return y;
  });
  return true;
}
