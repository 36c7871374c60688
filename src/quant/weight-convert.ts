/**
 * Converting a loaded Linear weight (float bytes or a quantized matrix) into the form an engine holds: float32,
 * 16-bit, or MatMulNBits codes. Isomorphic, shared by the Node engine and any other placer.
 */
import { numberToF16Bits } from '../io/half-float.js';
import { rawToFloat32 } from '../io/safetensors.js';
import type { WeightSource } from '../nn/frozen-weight.js';
import { blobSize, blockCount, dequantizeRows, quantizeNBits, zeroRowBytes, type NBitsMatrix, type QuantBits } from './nbits.js';

/** `[out, in]` of a weight source. */
export function weightShape(src: WeightSource): [number, number] {
  if (src.kind === 'nbits') return [src.matrix.n, src.matrix.k];
  const [n, k] = src.raw.shape;
  if (src.raw.shape.length !== 2) throw new Error(`a Linear weight must be 2-D, got [${src.raw.shape}]`);
  return [n!, k!];
}

/** The weight as float32 `[out, in]` (a view of the stored bytes when they are aligned F32). */
export function weightToFloat32(src: WeightSource): Float32Array {
  return src.kind === 'float' ? rawToFloat32(src.raw) : dequantizeRows(src.matrix);
}

/**
 * The weight as f16 bit patterns. Stored F16 is used as is; F32/BF16 are rounded (nearest even). Values past
 * f16's ±65504 are refused with the weight's name, since they would become infinities.
 */
export function weightToF16(src: WeightSource, name: string): Uint16Array {
  if (src.kind === 'float' && src.raw.dtype === 'F16') {
    const d = src.raw.data;
    return d.byteOffset % 2 === 0 ? new Uint16Array(d.buffer, d.byteOffset, d.byteLength / 2) : new Uint16Array(d.slice().buffer);
  }
  const f = weightToFloat32(src);
  const out = new Uint16Array(f.length);
  for (let i = 0; i < f.length; i++) {
    const v = f[i]!;
    if (v > 65504 || v < -65504) throw new Error(`${name}: value ${v} at flat index ${i} is outside the f16 range; load it with --dtype f32`);
    out[i] = numberToF16Bits(v);
  }
  return out;
}

/** Values widened to f32 at a time when quantizing a large weight (64 MB of f32). */
const CHUNK_VALUES = 16 * 2 ** 20;

/**
 * The weight as MatMulNBits codes with `bits`: a stored matrix with those bits is used as is; float weights are
 * quantized here (round-to-nearest, asymmetric, as `multi-token quantize` does), `slabValues` values at a time;
 * other bit widths are dequantized and requantized.
 */
export function weightToNBits(src: WeightSource, bits: QuantBits, groupSize: number, name: string, slabValues = CHUNK_VALUES): NBitsMatrix {
  if (src.kind === 'nbits' && src.matrix.bits === bits) return src.matrix;
  const [n, k] = weightShape(src);
  const shape = { n, k, bits, groupSize };
  if (src.kind !== 'float' || n * k <= slabValues) return quantizeNBits(weightToFloat32(src), shape, false, name);
  // A large 16-bit weight (an embedding table: 151936 × 1536 for Qwen2-1.5B) would take 0.9 GB widened to f32 at
  // once; rows quantize independently and every stored array is row-major, so do it a slab of rows at a time.
  const { raw } = src;
  const rowBytes = raw.data.byteLength / n;
  const nb = blockCount(shape);
  const zRow = zeroRowBytes(shape);
  const codeRow = nb * blobSize(shape);
  const out: NBitsMatrix = { ...shape, qweight: new Uint8Array(n * codeRow), scales: new Uint16Array(n * nb), qzeros: new Uint8Array(n * zRow) };
  const slab = Math.max(1, Math.floor(slabValues / k));
  for (let r0 = 0; r0 < n; r0 += slab) {
    const rows = Math.min(slab, n - r0);
    const part = rawToFloat32({ dtype: raw.dtype, shape: [rows, k], data: raw.data.subarray(r0 * rowBytes, (r0 + rows) * rowBytes) });
    const q = quantizeNBits(part, { ...shape, n: rows }, false, `${name} rows ${r0}…${r0 + rows - 1}`);
    out.qweight.set(q.qweight, r0 * codeRow);
    out.scales.set(q.scales, r0 * nb);
    out.qzeros!.set(q.qzeros!, r0 * zRow);
  }
  return out;
}

