import { tf } from './tf.js';

/**
 * Kernels that tfjs backends lack or implement too slowly for training.
 *
 * `UnsortedSegmentSum` is the gradient of `gather`: every embedding lookup, the splice and the loss need it.
 * The wasm backend (4.22) has no such kernel, and the cpu backend's is O(segments × rows × width) (it
 * builds one mask per segment), which made one training step of a tiny model take seconds. We register a
 * direct O(rows × width) scatter-add for both. Other missing kernels are delegated to the cpu backend.
 */
const DELEGATED = ['Einsum', 'Conv2DBackpropFilter'];

interface BackendLike {
  readSync(dataId: object): tf.backend_util.BackendValues;
  write(values: tf.backend_util.BackendValues | null, shape: number[], dtype: tf.DataType): object;
  disposeData(dataId: object, force?: boolean): boolean;
}

const installed = new Set<string>();

/** out[segmentIds[i]] += x[i] over the leading axis; rows with an id outside [0, numSegments) are dropped. */
function segmentSum(x: Float32Array | Int32Array, ids: Int32Array, numSegments: number, width: number, dtype: tf.DataType) {
  const out = dtype === 'int32' ? new Int32Array(numSegments * width) : new Float32Array(numSegments * width);
  for (let i = 0; i < ids.length; i++) {
    const s = ids[i];
    if (s < 0 || s >= numSegments) continue;
    const o = s * width;
    const xi = i * width;
    for (let j = 0; j < width; j++) out[o + j] += x[xi + j];
  }
  return out;
}

function registerSegmentSum(backendName: string): void {
  tf.registerKernel({
    kernelName: 'UnsortedSegmentSum',
    backendName,
    kernelFunc: ({ inputs, attrs, backend }) => {
      const b = backend as unknown as BackendLike;
      const { x, segmentIds } = inputs as { x: tf.TensorInfo; segmentIds: tf.TensorInfo };
      const numSegments = (attrs as { numSegments: number }).numSegments;
      const idsShape = segmentIds.shape;
      const outer = idsShape.reduce((a, c) => a * c, 1);
      const inner = x.shape.slice(idsShape.length);
      const width = inner.reduce((a, c) => a * c, 1);
      const ids = Int32Array.from(b.readSync(segmentIds.dataId) as ArrayLike<number>);
      const values = b.readSync(x.dataId) as Float32Array | Int32Array;
      if (ids.length !== outer) throw new Error('UnsortedSegmentSum: segmentIds shape must prefix x shape');
      const out = segmentSum(values, ids, numSegments, width, x.dtype);
      const shape = [numSegments, ...inner];
      return { dataId: b.write(out, shape, x.dtype), shape, dtype: x.dtype };
    },
  });
}

/**
 * The wasm backend's matmul reaches XNNPACK (fast) only for plain row-major operands with batch 1. Otherwise
 * it runs a scalar loop (measured ~0.4 GFLOP/s): 6–30× slower for `x·Wᵀ` (every Linear, every matmul
 * gradient) and ~6× slower for batched attention matmuls. We wrap its BatchMatMul to (1) transpose operands
 * explicitly first (a memory-bound copy) and (2) run equal-batch matmuls one batch slice at a time through the
 * fast path. Results are bit-identical to the original kernel; tiny batched products keep the plain loop,
 * where per-slice overhead would dominate (decode steps).
 */
interface WasmBackendLike extends BackendLike {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array;
}

/** M·K·N per slice below which the scalar loop is as fast (exported for the tests that straddle it). */
export const SLICE_MIN_WORK = 32768;

function wrapWasmMatMul(): void {
  const orig = tf.getKernel('BatchMatMul', 'wasm');
  const transpose = tf.getKernel('Transpose', 'wasm');
  if (!orig || !transpose) return;
  tf.unregisterKernel('BatchMatMul', 'wasm');
  const plain = (a: tf.TensorInfo, b: tf.TensorInfo, at: { transposeA: boolean; transposeB: boolean }, attrs: object | undefined, backend: unknown) => {
    if (!at.transposeA && !at.transposeB) return orig.kernelFunc({ inputs: { a, b }, attrs: attrs as never, backend: backend as never }) as tf.TensorInfo;
    const temps: tf.TensorInfo[] = [];
    const swapLast = (x: tf.TensorInfo) => {
      const perm = x.shape.map((_, i) => i);
      [perm[perm.length - 1], perm[perm.length - 2]] = [perm[perm.length - 2], perm[perm.length - 1]];
      const y = transpose.kernelFunc({ inputs: { x }, attrs: { perm } as never, backend: backend as never }) as tf.TensorInfo;
      temps.push(y);
      return y;
    };
    const out = orig.kernelFunc({
      inputs: { a: at.transposeA ? swapLast(a) : a, b: at.transposeB ? swapLast(b) : b },
      attrs: { ...attrs, transposeA: false, transposeB: false } as never,
      backend: backend as never,
    }) as tf.TensorInfo;
    for (const t of temps) (backend as BackendLike).disposeData(t.dataId, true);
    return out;
  };
  tf.registerKernel({
    ...orig,
    kernelFunc: ({ inputs, attrs, backend }) => {
      const { a, b } = inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
      const at = attrs as unknown as { transposeA: boolean; transposeB: boolean };
      const batch = (x: tf.TensorInfo) => x.shape.slice(0, -2).reduce((p, c) => p * c, 1);
      const n = batch(a);
      const [m, k] = at.transposeA ? [a.shape[a.shape.length - 1], a.shape[a.shape.length - 2]] : a.shape.slice(-2);
      const cols = at.transposeB ? b.shape[b.shape.length - 2] : b.shape[b.shape.length - 1];
      const sliceable = n > 1 && batch(b) === n && a.shape.length === b.shape.length && a.dtype === 'float32' && b.dtype === 'float32';
      if (!sliceable || m * k * cols < SLICE_MIN_WORK) return plain(a, b, at, attrs, backend);
      const w = backend as unknown as WasmBackendLike;
      const aM = a.shape.slice(-2);
      const bM = b.shape.slice(-2);
      const aSize = aM[0] * aM[1];
      const bSize = bM[0] * bM[1];
      let out: tf.TensorInfo | null = null;
      for (let i = 0; i < n; i++) {
        const ai = w.makeOutput([1, ...aM], 'float32');
        const bi = w.makeOutput([1, ...bM], 'float32');
        // Views are taken after every allocation: growing the wasm memory detaches older ones.
        w.typedArrayFromHeap(ai).set(w.typedArrayFromHeap(a).subarray(i * aSize, (i + 1) * aSize));
        w.typedArrayFromHeap(bi).set(w.typedArrayFromHeap(b).subarray(i * bSize, (i + 1) * bSize));
        const oi = plain(ai, bi, at, attrs, backend);
        w.disposeData(ai.dataId, true);
        w.disposeData(bi.dataId, true);
        const size = oi.shape[1] * oi.shape[2];
        out ??= w.makeOutput([...a.shape.slice(0, -2), oi.shape[1], oi.shape[2]], 'float32');
        w.typedArrayFromHeap(out).set(w.typedArrayFromHeap(oi), i * size);
        w.disposeData(oi.dataId, true);
      }
      return out!;
    },
  });
}

/**
 * Installs the fast segment sum (replacing the built-in one on cpu) and cpu delegates for kernels the named
 * backend lacks. Idempotent. Returns what was installed.
 */
export function installKernelFallbacks(backendName: string): string[] {
  const added: string[] = [];
  if ((backendName === 'cpu' || backendName === 'wasm') && !installed.has(`${backendName}/UnsortedSegmentSum`)) {
    if (tf.getKernel('UnsortedSegmentSum', backendName)) tf.unregisterKernel('UnsortedSegmentSum', backendName);
    registerSegmentSum(backendName);
    installed.add(`${backendName}/UnsortedSegmentSum`);
    added.push('UnsortedSegmentSum');
  }
  if (backendName === 'wasm' && !installed.has('wasm/BatchMatMul')) {
    wrapWasmMatMul();
    installed.add('wasm/BatchMatMul');
    added.push('BatchMatMul(transpose first)');
  }
  const have = new Set(tf.getKernelsForBackend(backendName).map((k) => k.kernelName));
  for (const kernelName of DELEGATED) {
    const key = `${backendName}/${kernelName}`;
    if (have.has(kernelName) || installed.has(key)) continue;
    const cpuKernel = tf.getKernel(kernelName, 'cpu');
    if (!cpuKernel) continue;
    tf.registerKernel({
      kernelName,
      backendName,
      kernelFunc: ({ inputs, attrs, backend }) => {
        const src = backend as unknown as BackendLike;
        const cpu = tf.engine().findBackend('cpu') as unknown as BackendLike;
        const cpuInputs: Record<string, tf.TensorInfo> = {};
        for (const [k, info] of Object.entries(inputs)) {
          if (!info) continue;
          const t = info as tf.TensorInfo;
          cpuInputs[k] = { dataId: cpu.write(src.readSync(t.dataId), t.shape, t.dtype), shape: t.shape, dtype: t.dtype };
        }
        const out = cpuKernel.kernelFunc({ inputs: cpuInputs, attrs, backend: cpu as never }) as tf.TensorInfo;
        const values = cpu.readSync(out.dataId);
        const result = { dataId: src.write(values, out.shape, out.dtype), shape: out.shape, dtype: out.dtype };
        for (const t of Object.values(cpuInputs)) cpu.disposeData(t.dataId, true);
        cpu.disposeData(out.dataId, true);
        return result;
      },
    });
    installed.add(key);
    added.push(kernelName);
  }
  return added;
}
