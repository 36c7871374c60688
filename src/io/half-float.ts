/**
 * IEEE half (F16) and bfloat16 (BF16) ↔ float32 conversion on raw 16-bit patterns.
 *
 * JavaScript has no 16-bit float type we can rely on (Float16Array is not in Node 20), so the bit patterns are
 * converted by hand. Narrowing rounds to nearest, ties to even, like PyTorch's `.half()` / `.bfloat16()`;
 * widening is exact (every F16 and BF16 value, subnormals included, is representable in float32).
 */

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

let f16Table: Float32Array | null = null;

/** float32 value of every F16 bit pattern, built once (256 KiB) because weight loading converts millions. */
function f16ToF32Table(): Float32Array {
  if (f16Table) return f16Table;
  const table = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) table[h] = f16BitsToNumber(h);
  f16Table = table;
  return table;
}

/** The number an F16 bit pattern encodes (exact). */
export function f16BitsToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24; // zero and subnormals
  if (exp === 0x1f) return mant === 0 ? sign * Infinity : NaN;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** The F16 bit pattern nearest to `value` (after rounding it to float32), ties to even; NaN → 0x7e00. */
export function numberToF16Bits(value: number): number {
  f32[0] = value;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) return mant === 0 ? sign | 0x7c00 : sign | 0x7e00;
  const e = exp - 127 + 15; // re-biased exponent
  if (e >= 0x1f) return sign | 0x7c00; // too large even before rounding → infinity
  if (e >= 1) {
    // Normal: keep 10 mantissa bits; a carry out of the mantissa correctly bumps the exponent (up to infinity).
    let h = (e << 10) | (mant >>> 13);
    const rest = mant & 0x1fff;
    if (rest > 0x1000 || (rest === 0x1000 && h & 1)) h++;
    return sign | h;
  }
  if (e < -10) return sign; // below half the smallest subnormal (2^-25): rounds to zero
  // Subnormal: value = m · 2^(e-25) with the implicit bit restored; result counts units of 2^-24.
  const m = mant | 0x800000;
  const shift = 14 - e; // 14..24
  let h = m >>> shift;
  const rest = m & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  if (rest > half || (rest === half && h & 1)) h++; // may carry into the smallest normal, which is right
  return sign | h;
}

/** The BF16 bit pattern nearest to `value` (after rounding it to float32), ties to even; NaN stays NaN. */
export function numberToBF16Bits(value: number): number {
  f32[0] = value;
  const x = u32[0];
  if ((x & 0x7f800000) === 0x7f800000 && (x & 0x7fffff) !== 0) return ((x >>> 16) | 0x40) & 0xffff; // quiet NaN
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}

/** The number a BF16 bit pattern encodes (exact). */
export function bf16BitsToNumber(b: number): number {
  u32[0] = (b & 0xffff) << 16;
  return f32[0];
}

/** Widen `n` little-endian F16 values starting at `bytes[0]` into a new Float32Array. */
export function f16BytesToFloat32(bytes: Uint8Array, n: number): Float32Array {
  const table = f16ToF32Table();
  const out = new Float32Array(n);
  for (let i = 0, j = 0; i < n; i++, j += 2) out[i] = table[bytes[j] | (bytes[j + 1] << 8)];
  return out;
}

/** Widen `n` little-endian BF16 values starting at `bytes[0]` into a new Float32Array. */
export function bf16BytesToFloat32(bytes: Uint8Array, n: number): Float32Array {
  const out = new Float32Array(n);
  const bits = new Uint32Array(out.buffer);
  for (let i = 0, j = 0; i < n; i++, j += 2) bits[i] = ((bytes[j] | (bytes[j + 1] << 8)) << 16) >>> 0;
  return out;
}

/** Narrow float32 values to little-endian F16 (`'F16'`) or BF16 (`'BF16'`) bytes. */
export function float32ToHalfBytes(data: Float32Array, kind: 'F16' | 'BF16'): Uint8Array {
  const out = new Uint8Array(data.length * 2);
  const convert = kind === 'F16' ? numberToF16Bits : numberToBF16Bits;
  for (let i = 0, j = 0; i < data.length; i++, j += 2) {
    const h = convert(data[i]);
    out[j] = h & 0xff;
    out[j + 1] = h >>> 8;
  }
  return out;
}
