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

/** Element types we read and write (the safetensors names). */
export type DType = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

/** A tensor as stored: little-endian, row-major bytes, exactly `product(shape) * bytesPerElement(dtype)` long. */
export interface RawTensor {
  dtype: DType;
  shape: number[];
  /** Little-endian bytes, exactly nbytes; may be a view into a larger buffer (e.g. the whole file). */
  data: Uint8Array;
}

/** A malformed safetensors file or an unserializable tensor; the message names the file and the tensor. */
export class SafetensorsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SafetensorsError';
  }
}

const BYTES: Record<DType, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };
/** The reference implementation's dtype order (increasing alignment); writing sorts by it, descending. */
const ALIGN_ORDER: DType[] = ['BOOL', 'U8', 'I8', 'I16', 'F16', 'BF16', 'I32', 'F32', 'F64', 'I64'];
/** Same limit as the reference reader: a bigger header is a corrupt or hostile file. */
const MAX_HEADER_BYTES = 100_000_000;

/** Size in bytes of one element of `d`. */
export function bytesPerElement(d: DType): number {
  return BYTES[d];
}

/** Whether `s` names a dtype we support. */
export function isDType(s: unknown): s is DType {
  return typeof s === 'string' && Object.prototype.hasOwnProperty.call(BYTES, s);
}

/** Number of elements of a tensor of `shape` (1 for a scalar). */
export function shapeSize(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

interface Entry {
  name: string;
  tensor: RawTensor;
  begin: number;
  end: number;
}

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
  const fail = (msg: string) => new SafetensorsError(`${fileName}: ${msg}`);
  if (bytes.length < 8) {
    throw fail(`file is ${bytes.length} bytes, too short for the 8-byte header length (file truncated?)`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n64 = view.getBigUint64(0, true);
  if (n64 > BigInt(bytes.length - 8)) {
    const after = bytes.length - 8;
    throw fail(`header length ${n64} exceeds the ${after} bytes after it (file truncated, or not safetensors?)`);
  }
  if (n64 > BigInt(MAX_HEADER_BYTES)) throw fail(`header length ${n64} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  const headerEnd = 8 + Number(n64);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, headerEnd));
  } catch {
    throw fail('header is not valid UTF-8');
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    throw fail(`header is not valid JSON: ${(e as Error).message}`);
  }
  if (!isRecord(header)) throw fail('header is not a JSON object');

  const dataSize = bytes.length - headerEnd;
  let metadata: Record<string, string> = {};
  const entries: Entry[] = [];
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') {
      if (!isRecord(info)) throw fail('__metadata__ is not a JSON object');
      for (const [k, v] of Object.entries(info)) {
        if (typeof v !== 'string') throw fail(`__metadata__ "${k}" is ${JSON.stringify(v)}, not a string`);
      }
      metadata = Object.fromEntries(Object.entries(info)) as Record<string, string>; // fromEntries: "__proto__" safe
      continue;
    }
    const where = `tensor "${name}"`;
    if (!isRecord(info)) throw fail(`${where}: header entry is not an object`);
    const { dtype, shape, data_offsets: offsets } = info;
    if (!isDType(dtype)) {
      throw fail(`${where}: unknown dtype ${JSON.stringify(dtype)} (supported: ${Object.keys(BYTES).join(', ')})`);
    }
    if (!Array.isArray(shape) || !shape.every(isCount)) {
      throw fail(`${where}: shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount) || offsets[0] > offsets[1]) {
      throw fail(`${where}: data_offsets ${JSON.stringify(offsets)} is not [begin, end] with 0 <= begin <= end`);
    }
    const [begin, end] = offsets as [number, number];
    if (end > dataSize) {
      throw fail(`${where} data_offsets [${begin}, ${end}] exceed data size ${dataSize} (file truncated?)`);
    }
    const nbytes = shapeSize(shape) * BYTES[dtype];
    if (end - begin !== nbytes) {
      throw fail(
        `${where}: data_offsets [${begin}, ${end}] hold ${end - begin} bytes, but ${dtype} [${shape.join(', ')}] ` +
          `needs ${nbytes}`,
      );
    }
    const data = bytes.subarray(headerEnd + begin, headerEnd + end);
    entries.push({ name, tensor: { dtype, shape: [...shape], data }, begin, end });
  }

  // Like the reference reader, the tensors must tile the data area exactly: no overlap, no gap, no tail.
  const byOffset = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  let prev: Entry | undefined;
  for (const e of byOffset) {
    const span = `[${e.begin}, ${e.end}]`;
    if (e.begin < cursor) {
      const other = `tensor "${prev?.name}" [${prev?.begin}, ${prev?.end}]`;
      throw fail(`tensor "${e.name}" data_offsets ${span} overlap ${other}`);
    }
    if (e.begin > cursor) {
      throw fail(`tensor "${e.name}" data_offsets ${span} leave ${e.begin - cursor} unused bytes before them`);
    }
    cursor = e.end;
    prev = e;
  }
  if (cursor !== dataSize) {
    const extra = dataSize - cursor;
    throw fail(`${extra} bytes after the last tensor's data (data size ${dataSize}, tensors cover ${cursor})`);
  }
  return { tensors: new Map(entries.map((e) => [e.name, e.tensor])), metadata };
}

/** Compare strings by Unicode code point (= UTF-8 byte order, as Rust and Python sort), not by UTF-16 unit. */
export function compareCodePoints(a: string, b: string): number {
  const ia = a[Symbol.iterator]();
  const ib = b[Symbol.iterator]();
  for (;;) {
    const x = ia.next();
    const y = ib.next();
    if (x.done || y.done) return x.done === y.done ? 0 : x.done ? -1 : 1;
    const d = x.value.codePointAt(0)! - y.value.codePointAt(0)!;
    if (d !== 0) return d;
  }
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
  const rank = (d: DType) => ALIGN_ORDER.indexOf(d);
  list.sort(([na, a], [nb, b]) => rank(b.dtype) - rank(a.dtype) || compareCodePoints(na, nb));

  // Built as entries + Object.fromEntries so a tensor called "__proto__" is an ordinary key.
  const header: [string, unknown][] = [];
  if (metadata !== undefined) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new SafetensorsError(`metadata "${k}" is ${JSON.stringify(v)}, not a string`);
    }
    header.push(['__metadata__', metadata]);
  }
  let offset = 0;
  for (const [name, t] of list) {
    header.push([name, { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] }]);
    offset += t.data.byteLength;
  }
  const json = new TextEncoder().encode(JSON.stringify(Object.fromEntries(header)));
  const padded = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + padded + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + padded);
  let at = 8 + padded;
  for (const [, t] of list) {
    out.set(t.data, at);
    at += t.data.byteLength;
  }
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
