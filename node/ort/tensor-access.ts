/**
 * Zero-copy access to tfjs tensor memory from inside a kernel, for the two CPU backends the Node engine sits on:
 * `wasm` (tensors live in the WebAssembly heap) and `cpu` (tensors are plain typed arrays). ONNX Runtime reads
 * inputs from these views and writes outputs straight into a freshly made tfjs output.
 */
import type { tf } from '../../src/tf.js';

/** The backend internals used here (tfjs 4.22: `BackendWasm`, `MathBackendCPU`). */
interface WasmBackend {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
}
interface CpuBackend {
  data: { get(dataId: object): { values?: unknown } };
  makeTensorInfo(shape: number[], dtype: tf.DataType, values?: Float32Array): tf.TensorInfo;
}

/** Views of inputs and a float32 output being built, valid until the next tfjs allocation. */
export interface KernelMemory {
  /** float32 values of an input tensor. */
  view(t: tf.TensorInfo): Float32Array;
  /** int32 values of an input tensor (token ids). */
  viewInt32(t: tf.TensorInfo): Int32Array;
  /** A new float32 output of `shape`, and a function that returns its (current) values view. */
  output(shape: number[]): { info: tf.TensorInfo; values(): Float32Array };
}

function size(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Memory access for `backendName`, or null when this engine does not support that backend. */
export function kernelMemory(backendName: string, backend: unknown): KernelMemory | null {
  if (backendName === 'wasm') {
    const w = backend as WasmBackend;
    return {
      // Re-taken on every call: growing the wasm memory detaches earlier views.
      view: (t) => w.typedArrayFromHeap(t) as Float32Array,
      viewInt32: (t) => w.typedArrayFromHeap(t) as Int32Array,
      output: (shape) => {
        const info = w.makeOutput(shape, 'float32');
        return { info, values: () => w.typedArrayFromHeap(info) as Float32Array };
      },
    };
  }
  if (backendName === 'cpu') {
    const c = backend as CpuBackend;
    return {
      view: (t) => {
        const v = c.data.get(t.dataId).values;
        if (!(v instanceof Float32Array)) throw new Error(`onnxruntime engine: a ${t.dtype} tensor's values are not a Float32Array`);
        return v;
      },
      viewInt32: (t) => {
        const v = c.data.get(t.dataId).values;
        if (!(v instanceof Int32Array)) throw new Error(`onnxruntime engine: a ${t.dtype} tensor's values are not an Int32Array`);
        return v;
      },
      output: (shape) => {
        const values = new Float32Array(size(shape));
        return { info: c.makeTensorInfo(shape, 'float32', values), values: () => values };
      },
    };
  }
  return null;
}
