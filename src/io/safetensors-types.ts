/**
 * The element types and size arithmetic shared by the safetensors reader, the header parser and the writers
 * (safetensors.ts re-exports everything here; this file exists so the header module needs no import back).
 */

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

export const BYTES: Record<DType, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };

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

/** A non-negative safe integer (a shape entry or a byte offset). */
export function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
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

