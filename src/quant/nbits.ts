/**
 * Block-wise 4-/8-bit weight quantization in ONNX Runtime's `MatMulNBits` layout (the contract in
 * docs/quantization.md): a Linear weight `W [N = out, K = in]` becomes
 *
 * - `qweight` U8 `[N, nBlocks, G·bits/8]`, `nBlocks = ceil(K / G)`: row n, block b holds k = b·G … b·G+G−1
 *   (K zero-padded to a multiple of G); bits=4 packs two per byte, the even k in the LOW nibble;
 * - `scales` F16 `[N, nBlocks]`;
 * - `qzeros` U8 (asymmetric only): bits=4 `[N, ceil(nBlocks/2)]` two per byte, low nibble first; bits=8
 *   `[N, nBlocks]`. Absent means symmetric with zero point 2^(bits−1).
 *
 * `w[n,k] = (q[n,k] − z[n,b]) · s[n,b]`, b = floor(k/G).
 *
 * The quantizer is round-to-nearest (RTN) per block: asymmetric uses the block's [min, max] widened to include 0
 * (so 0 is exact, as ONNX Runtime's own quantizer does); symmetric uses ±max|w| with the top code unused
 * (s = max|w| / (2^(bits−1) − 1)). The scale is rounded *up* to f16 *before* the codes are chosen, so the
 * stored scale is the one the codes were fitted to and every weight is within half a step of its code. Written by hand: the format is small, and no npm package writes it.
 */
import { f16BitsToNumber, numberToF16Bits } from '../io/half-float.js';

/** Bits per weight this format supports. */
export type QuantBits = 4 | 8;

/** Shape parameters of one quantized matrix. */
export interface NBitsShape {
  /** Output features (rows of W). */
  n: number;
  /** Input features (columns of W). */
  k: number;
  bits: QuantBits;
  /** Block (group) size along K: 16, 32, 64, 128 or 256. */
  groupSize: number;
}

/** One quantized matrix, as stored. */
export interface NBitsMatrix extends NBitsShape {
  qweight: Uint8Array;
  /** f16 bit patterns, `[n, nBlocks]`. */
  scales: Uint16Array;
  /** Packed zero points, or null (symmetric: 2^(bits−1)). */
  qzeros: Uint8Array | null;
}

export const GROUP_SIZES = [16, 32, 64, 128, 256] as const;

export function blockCount(s: Pick<NBitsShape, 'k' | 'groupSize'>): number {
  return Math.ceil(s.k / s.groupSize);
}

/** Bytes of one block of codes (`G·bits/8`). */
export function blobSize(s: Pick<NBitsShape, 'bits' | 'groupSize'>): number {
  return (s.groupSize * s.bits) / 8;
}

/** Bytes of one row of packed zero points. */
export function zeroRowBytes(s: Pick<NBitsShape, 'k' | 'groupSize' | 'bits'>): number {
  const nb = blockCount(s);
  return s.bits === 4 ? Math.ceil(nb / 2) : nb;
}

/** Throws a clear error for unsupported bits / group sizes. */
export function checkNBitsShape(s: NBitsShape, what = 'quantized weight'): void {
  if (s.bits !== 4 && s.bits !== 8) throw new Error(`${what}: bits must be 4 or 8, got ${s.bits}`);
  if (!(GROUP_SIZES as readonly number[]).includes(s.groupSize)) {
    throw new Error(`${what}: group size must be one of ${GROUP_SIZES.join(', ')}, got ${s.groupSize}`);
  }
  if (!(Number.isInteger(s.n) && s.n > 0 && Number.isInteger(s.k) && s.k > 0)) throw new Error(`${what}: bad shape [${s.n}, ${s.k}]`);
}

/** Per-block scales (f16 bits) and unpacked zero points (one byte per block) of `w` `[n, k]`. */
export function quantizationParams(
  w: Float32Array,
  shape: NBitsShape,
  symmetric: boolean,
  name = 'weight',
): { scales: Uint16Array; zeros: Uint8Array } {
  checkNBitsShape(shape, name);
  const { n, k, bits, groupSize: g } = shape;
  if (w.length !== n * k) throw new Error(`${name}: ${w.length} values do not fill [${n}, ${k}]`);
  const nb = blockCount(shape);
  const qmax = (1 << bits) - 1;
  const mid = 1 << (bits - 1);
  const scales = new Uint16Array(n * nb);
  const zeros = new Uint8Array(n * nb);
  for (let r = 0; r < n; r++) {
    const row = r * k;
    for (let b = 0; b < nb; b++) {
      const k0 = b * g;
      const k1 = Math.min(k, k0 + g);
      let lo = 0;
      let hi = 0;
      for (let i = row + k0; i < row + k1; i++) {
        const v = w[i];
        if (v < lo) lo = v;
        if (v > hi) hi = v;
        if (v !== v) throw new Error(`${name}: NaN at [${r}, ${i - row}]; cannot quantize`);
      }
      let s: number;
      let z: number;
      if (symmetric) {
        s = Math.max(-lo, hi) / (mid - 1);
        z = mid;
      } else {
        s = (hi - lo) / qmax;
        z = 0; // set below, from the f16-rounded scale
      }
      const want = s === 0 ? 1 : s;
      let bitsF16 = numberToF16Bits(want);
      // Round the scale up, never down: the codes' range then covers the block, so no weight is clipped by more
      // than half a step.
      if (f16BitsToNumber(bitsF16) < want) bitsF16 += 1;
      if (f16BitsToNumber(bitsF16) === 0) bitsF16 = 1; // underflow: the smallest subnormal keeps codes finite
      const s16 = f16BitsToNumber(bitsF16);
      if (!Number.isFinite(s16)) {
        throw new Error(`${name}: block [${r}, ${k0}:${k1}] spans ${lo}…${hi}, past the f16 scale range; cannot quantize`);
      }
      if (!symmetric) z = Math.min(qmax, Math.max(0, Math.round(-lo / s16)));
      scales[r * nb + b] = bitsF16;
      zeros[r * nb + b] = z;
    }
  }
  return { scales, zeros };
}

/** Packs the codes of `w` for the given scales and zero points (from {@link quantizationParams}). */
export function packCodes(w: Float32Array, shape: NBitsShape, scales: Uint16Array, zeros: Uint8Array): Uint8Array {
  const { n, k, bits, groupSize: g } = shape;
  const nb = blockCount(shape);
  const blob = blobSize(shape);
  const qmax = (1 << bits) - 1;
  const out = new Uint8Array(n * nb * blob);
  for (let r = 0; r < n; r++) {
    for (let b = 0; b < nb; b++) {
      const inv = 1 / f16BitsToNumber(scales[r * nb + b]);
      const z = zeros[r * nb + b];
      const base = (r * nb + b) * blob;
      for (let j = 0; j < g; j++) {
        const kk = b * g + j;
        // Padding past K gets the zero point: it dequantizes to exactly 0.
        const q = kk < k ? Math.min(qmax, Math.max(0, Math.round(w[r * k + kk] * inv) + z)) : z;
        if (bits === 8) out[base + j] = q;
        else out[base + (j >> 1)] |= (j & 1) === 0 ? q : q << 4;
      }
    }
  }
  return out;
}

/** Packs per-block zero points as stored (`qzeros`). */
export function packZeros(zeros: Uint8Array, shape: NBitsShape): Uint8Array {
  if (shape.bits === 8) return zeros.slice();
  const nb = blockCount(shape);
  const rowBytes = zeroRowBytes(shape);
  const out = new Uint8Array(shape.n * rowBytes);
  for (let r = 0; r < shape.n; r++) {
    for (let b = 0; b < nb; b++) out[r * rowBytes + (b >> 1)] |= (b & 1) === 0 ? zeros[r * nb + b] : zeros[r * nb + b] << 4;
  }
  return out;
}

/** Quantizes `w` `[n, k]` (row-major, PyTorch Linear layout) in one go. */
export function quantizeNBits(w: Float32Array, shape: NBitsShape, symmetric = false, name = 'weight'): NBitsMatrix {
  const { scales, zeros } = quantizationParams(w, shape, symmetric, name);
  return {
    ...shape,
    qweight: packCodes(w, shape, scales, zeros),
    scales,
    qzeros: symmetric ? null : packZeros(zeros, shape),
  };
}

/** Zero point of block `b` in row `r` (stored or the symmetric default). */
export function zeroPoint(m: NBitsMatrix, r: number, b: number): number {
  if (!m.qzeros) return 1 << (m.bits - 1);
  if (m.bits === 8) return m.qzeros[r * blockCount(m) + b];
  const byte = m.qzeros[r * zeroRowBytes(m) + (b >> 1)];
  return (b & 1) === 0 ? byte & 0x0f : byte >> 4;
}

/**
 * Rows `[r0, r1)` of W as float32 (`(r1 − r0) · k` values), written into `out` when given. The reference for
 * every engine's kernels, and the fallback where no quantized matmul exists (weights widened at load).
 */
export function dequantizeRows(m: NBitsMatrix, r0 = 0, r1 = m.n, out?: Float32Array): Float32Array {
  const { k, bits, groupSize: g } = m;
  const nb = blockCount(m);
  const blob = blobSize(m);
  const res = out ?? new Float32Array((r1 - r0) * k);
  for (let r = r0; r < r1; r++) {
    const o = (r - r0) * k;
    for (let b = 0; b < nb; b++) {
      const s = f16BitsToNumber(m.scales[r * nb + b]);
      const z = zeroPoint(m, r, b);
      const base = (r * nb + b) * blob;
      const kEnd = Math.min(g, k - b * g);
      for (let j = 0; j < kEnd; j++) {
        const q = bits === 8 ? m.qweight[base + j] : (m.qweight[base + (j >> 1)] >> ((j & 1) << 2)) & 0x0f;
        res[o + b * g + j] = (q - z) * s;
      }
    }
  }
  return res;
}
