/**
 * Conversions between stored tensors (`RawTensor`: safetensors dtype + little-endian bytes) and tfjs tensors,
 * which compute only in float32, int32 and bool.
 */
import { tf } from '../tf.js';
import { bytesPerElement, float32ToRaw, rawToFloat32, shapeSize, type DType, type RawTensor } from './safetensors.js';

/** A copy of `data` whose byte offset suits a typed array of `align`-byte elements, or `data` itself. */
function aligned(data: Uint8Array, align: number): Uint8Array {
  return data.byteOffset % align === 0 ? data : data.slice();
}

/**
 * A tfjs tensor from stored bytes: float dtypes → float32 (may share memory with `t.data`; tfjs never writes
 * into a tensor's values), I32/I16/I8/U8 → int32, I64 → int32 (throws, naming the tensor, if a value does not
 * fit), BOOL → bool.
 */
export function rawToTensor(t: RawTensor, name?: string): tf.Tensor {
  const label = name === undefined ? 'tensor' : `tensor "${name}"`;
  const n = shapeSize(t.shape);
  if (t.data.byteLength !== n * bytesPerElement(t.dtype)) {
    throw new Error(`${label}: ${t.data.byteLength} bytes do not match ${t.dtype} [${t.shape.join(', ')}]`);
  }
  const d = t.data;
  switch (t.dtype) {
    case 'F64':
    case 'F32':
    case 'F16':
    case 'BF16':
      return tf.tensor(rawToFloat32(t), t.shape, 'float32');
    case 'I32': {
      const a = aligned(d, 4);
      return tf.tensor(new Int32Array(a.buffer, a.byteOffset, n), t.shape, 'int32');
    }
    case 'I16': {
      const a = aligned(d, 2);
      return tf.tensor(Int32Array.from(new Int16Array(a.buffer, a.byteOffset, n)), t.shape, 'int32');
    }
    case 'I8':
      return tf.tensor(Int32Array.from(new Int8Array(d.buffer, d.byteOffset, n)), t.shape, 'int32');
    case 'U8':
      return tf.tensor(Int32Array.from(d), t.shape, 'int32');
    case 'I64': {
      const a = aligned(d, 8);
      const src = new BigInt64Array(a.buffer, a.byteOffset, n);
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        const v = src[i]!;
        if (v > 2147483647n || v < -2147483648n) {
          const why = 'does not fit in int32 (tfjs\'s integer type)';
          throw new RangeError(`${label}: I64 value ${v} at flat index ${i} ${why}`);
        }
        out[i] = Number(v);
      }
      return tf.tensor(out, t.shape, 'int32');
    }
    case 'BOOL':
      return tf.tensor(Uint8Array.from(d, (b) => (b ? 1 : 0)), t.shape, 'bool');
  }
}

type IntTarget = 'I32' | 'I16' | 'I8' | 'U8';
type IntArray = Int32Array | Int16Array | Int8Array | Uint8Array;
const INT_TARGETS: Record<IntTarget, { min: number; max: number; make: (n: number) => IntArray }> = {
  I32: { min: -2147483648, max: 2147483647, make: (n) => new Int32Array(n) },
  I16: { min: -32768, max: 32767, make: (n) => new Int16Array(n) },
  I8: { min: -128, max: 127, make: (n) => new Int8Array(n) },
  U8: { min: 0, max: 255, make: (n) => new Uint8Array(n) },
};
const isIntTarget = (d: DType): d is IntTarget => Object.prototype.hasOwnProperty.call(INT_TARGETS, d);

/**
 * Stored bytes from a tfjs tensor (copied; the tensor is not disposed). Defaults: float32 → F32, int32 → I32,
 * bool → BOOL. float32 may also be written as F16/BF16 (round to nearest even) or F64; int32 as I64, I16, I8 or
 * U8 (range-checked); bool as U8.
 */
export async function tensorToRaw(t: tf.Tensor, dtype?: DType): Promise<RawTensor> {
  const shape = [...t.shape];
  const n = shapeSize(shape);
  if (t.dtype === 'float32') {
    const target = dtype ?? 'F32';
    const values = (await t.data()) as Float32Array;
    if (target === 'F32' || target === 'F16' || target === 'BF16') return float32ToRaw(values, shape, target);
    if (target === 'F64') return { dtype: 'F64', shape, data: new Uint8Array(Float64Array.from(values).buffer) };
    throw new Error(`cannot store a float32 tensor as ${target} (use F32, F16, BF16 or F64)`);
  }
  if (t.dtype === 'int32') {
    const target = dtype ?? 'I32';
    const values = (await t.data()) as Int32Array;
    if (target === 'I64') {
      return { dtype: target, shape, data: new Uint8Array(BigInt64Array.from(values, (v) => BigInt(v)).buffer) };
    }
    if (!isIntTarget(target)) {
      throw new Error(`cannot store an int32 tensor as ${target} (use I64, I32, I16, I8 or U8)`);
    }
    const { min, max, make } = INT_TARGETS[target];
    const out = make(n);
    for (let i = 0; i < n; i++) {
      const v = values[i]!;
      if (v < min || v > max) throw new RangeError(`value ${v} at flat index ${i} does not fit in ${target}`);
      out[i] = v;
    }
    return { dtype: target, shape, data: new Uint8Array(out.buffer) };
  }
  if (t.dtype === 'bool') {
    const target = dtype ?? 'BOOL';
    if (target !== 'BOOL' && target !== 'U8') {
      throw new Error(`cannot store a bool tensor as ${target} (use BOOL or U8)`);
    }
    return { dtype: target, shape, data: Uint8Array.from((await t.data()) as Uint8Array) };
  }
  throw new Error(`cannot store a ${t.dtype} tensor in a checkpoint`);
}
