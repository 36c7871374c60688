/**
 * The safetensors format (https://huggingface.co/docs/safetensors), read and written by hand.
 *
 * Layout: 8-byte little-endian u64 `N`, `N` bytes of UTF-8 JSON header
 * (`{"__metadata__": {...}, "<name>": {"dtype", "shape", "data_offsets": [begin, end]}, ...}`), then the data area.
 *
 * Why by hand: no maintained npm package covered what we need at once — writing (not only reading), every dtype
 * the Python library writes for LLM checkpoints (F16/BF16/I64/BOOL included), and strict validation of untrusted
 * headers with errors that name the file and the tensor. The format is small enough that owning it is cheaper.
 *
 * Writing matches the reference implementation byte for byte: tensors ordered by descending dtype alignment, then
 * by name (so every tensor's data is aligned to its element size), data contiguous, header padded with spaces to a
 * multiple of 8. Reading is as strict as the reference (offsets must tile the data area exactly) and zero-copy:
 * each tensor's `data` is a `subarray` view of the input bytes.
 */
import { bf16BytesToFloat32, f16BytesToFloat32, float32ToHalfBytes } from './half-float.js';
import { parseSafetensorsHeader, safetensorsHeaderLength, safetensorsLayout } from './safetensors-header.js';
import { BYTES, SafetensorsError, isCount, isDType, shapeSize, type DType, type RawTensor } from './safetensors-types.js';

export { SafetensorsError, bytesPerElement, compareCodePoints, isCount, isDType, shapeSize, type DType, type RawTensor } from './safetensors-types.js';

export { parseSafetensorsHeader, safetensorsHeaderLength, safetensorsLayout, type SafetensorsEntry, type TensorSpec } from './safetensors-header.js';

/**
 * Parse a whole safetensors file. Tensor `data` are zero-copy views into `bytes`. Throws `SafetensorsError`
 * naming `fileName` (and the tensor) on any inconsistency: short file, header length past the end, invalid
 * UTF-8/JSON, unknown dtype, bad shape, offsets outside the data area, sizes that disagree with shape×dtype,
 * overlapping offsets, gaps or trailing bytes, non-string metadata.
 */
export function parseSafetensors(
  bytes: Uint8Array,
  fileName = 'model.safetensors',
): { tensors: Map<string, RawTensor>; metadata: Record<string, string> } {
  const headerEnd = 8 + safetensorsHeaderLength(bytes.subarray(0, 8), bytes.length, fileName);
  const { entries, metadata } = parseSafetensorsHeader(bytes.subarray(8, headerEnd), bytes.length - headerEnd, fileName);
  const tensors = new Map<string, RawTensor>();
  for (const e of entries) {
    tensors.set(e.name, { dtype: e.dtype, shape: e.shape, data: bytes.subarray(headerEnd + e.begin, headerEnd + e.end) });
  }
  return { tensors, metadata };
}

/**
 * Serialize tensors (and optional string metadata) to safetensors bytes, byte-identical to the Python
 * `safetensors` library: tensors sorted by descending dtype alignment then name, contiguous data offsets, compact
 * JSON header padded with spaces to a multiple of 8 bytes.
 */
export function serializeSafetensors(
  tensors: Map<string, RawTensor> | Record<string, RawTensor>,
  metadata?: Record<string, string>,
): Uint8Array {
  const list = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
  for (const [name, t] of list) {
    const where = `cannot serialize tensor "${name}"`;
    if (name === '__metadata__') throw new SafetensorsError(`${where}: the name is reserved`);
    if (!isDType(t.dtype)) throw new SafetensorsError(`${where}: unknown dtype ${JSON.stringify(t.dtype)}`);
    if (!Array.isArray(t.shape) || !t.shape.every(isCount)) {
      throw new SafetensorsError(`${where}: shape ${JSON.stringify(t.shape)} is not a list of non-negative integers`);
    }
    const nbytes = shapeSize(t.shape) * BYTES[t.dtype];
    if (t.data.byteLength !== nbytes) {
      throw new SafetensorsError(
        `${where}: ${t.data.byteLength} data bytes, but ${t.dtype} [${t.shape.join(', ')}] needs ${nbytes}`,
      );
    }
  }
  const byName = new Map(list);
  const layout = safetensorsLayout(list.map(([name, t]) => ({ name, dtype: t.dtype, shape: t.shape })), metadata);
  const out = new Uint8Array(layout.header.length + layout.dataBytes);
  out.set(layout.header, 0);
  for (const e of layout.entries) out.set(byName.get(e.name)!.data, layout.header.length + e.begin);
  return out;
}

/** A typed-array-compatible copy of `data` when its byte offset is not a multiple of `align`, else `data`. */
function aligned(data: Uint8Array, align: number): Uint8Array {
  return data.byteOffset % align === 0 ? data : data.slice();
}

function checkSize(t: RawTensor): number {
  const n = shapeSize(t.shape);
  if (t.data.byteLength !== n * BYTES[t.dtype]) {
    throw new SafetensorsError(
      `tensor data is ${t.data.byteLength} bytes, but ${t.dtype} [${t.shape.join(', ')}] needs ${n * BYTES[t.dtype]}`,
    );
  }
  return n;
}

/**
 * The tensor's values as float32. F32 data is returned as a view of `t.data` when aligned (zero-copy: do not
 * mutate it); everything else is converted into a new array. F16/BF16 widen exactly (subnormals, ±inf, NaN);
 * F64/I64 round to the nearest float32; integers and BOOL convert numerically.
 */
export function rawToFloat32(t: RawTensor): Float32Array {
  const n = checkSize(t);
  const d = t.data;
  switch (t.dtype) {
    case 'F32': {
      const a = aligned(d, 4);
      return new Float32Array(a.buffer, a.byteOffset, n);
    }
    case 'F16':
      return f16BytesToFloat32(d, n);
    case 'BF16':
      return bf16BytesToFloat32(d, n);
    case 'F64': {
      const a = aligned(d, 8);
      return Float32Array.from(new Float64Array(a.buffer, a.byteOffset, n));
    }
    case 'I64': {
      const a = aligned(d, 8);
      const src = new BigInt64Array(a.buffer, a.byteOffset, n);
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = Number(src[i]);
      return out;
    }
    case 'I32': {
      const a = aligned(d, 4);
      return Float32Array.from(new Int32Array(a.buffer, a.byteOffset, n));
    }
    case 'I16': {
      const a = aligned(d, 2);
      return Float32Array.from(new Int16Array(a.buffer, a.byteOffset, n));
    }
    case 'I8':
      return Float32Array.from(new Int8Array(d.buffer, d.byteOffset, n));
    case 'U8':
    case 'BOOL':
      return Float32Array.from(d);
  }
}

/**
 * Encode float32 values as a tensor of `dtype`: F32 copies the bytes; F16 and BF16 round to nearest, ties to
 * even (values past the F16 range become ±inf, NaN stays NaN), exactly like PyTorch's `.half()`/`.bfloat16()`.
 */
export function float32ToRaw(data: Float32Array, shape: number[], dtype: 'F32' | 'F16' | 'BF16'): RawTensor {
  if (!shape.every(isCount) || shapeSize(shape) !== data.length) {
    throw new SafetensorsError(`${data.length} values do not fill shape [${shape.join(', ')}]`);
  }
  if (dtype === 'F32') {
    return { dtype, shape: [...shape], data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice() };
  }
  return { dtype, shape: [...shape], data: float32ToHalfBytes(data, dtype) };
}
