/**
 * A small group-wise quantizer that writes the QUANT-LAYOUT.md tensors (`qweight` U8, `scales` F16, optional
 * `qzeros` U8) for test fixtures and benchmarks. It is NOT the product's quantizer: `multi-token quantize`
 * (issue #14, branch real-node) owns the writer; this exists so the WGSL kernels and the page's loader can be
 * tested before and independently of it, and so a test can state exactly what it fed the kernels.
 *
 * Asymmetric: per group min/max (0 included), scale = (max − min) / (2^bits − 1), zero = round(−min / scale).
 * Symmetric: scale = max|w| / (2^(bits−1) − 1), zero fixed at 2^(bits−1). The scale is rounded to f16 first
 * and the codes computed with that rounded scale, so dequantizing gives the nearest representable weights.
 */
import { float32ToHalfBytes, f16BitsToNumber } from '../../src/io/half-float.js';
import type { RawTensor } from '../../src/io/safetensors.js';

/** The three checkpoint tensors of one quantized Linear. */
export interface QuantizedTensors {
  qweight: RawTensor;
  scales: RawTensor;
  qzeros: RawTensor | null;
}

/** Quantizes `w` (`[N, K]`, row-major float32) into the MatMulNBits layout. */
export function quantizeWeight(w: Float32Array, N: number, K: number, bits: 4 | 8, groupSize: number, sym: boolean): QuantizedTensors {
  if (w.length !== N * K) throw new Error(`quantizeWeight: ${w.length} values for [${N}, ${K}]`);
  const G = groupSize;
  const nBlocks = Math.ceil(K / G);
  const blob = (G * bits) / 8;
  const qmax = 2 ** bits - 1;
  const qweight = new Uint8Array(N * nBlocks * blob);
  const scaleValues = new Float32Array(N * nBlocks);
  const zeroCodes = new Uint8Array(N * nBlocks);
  for (let n = 0; n < N; n++) {
    for (let b = 0; b < nBlocks; b++) {
      const k0 = b * G;
      const k1 = Math.min(K, k0 + G);
      let lo = 0;
      let hi = 0;
      for (let k = k0; k < k1; k++) {
        lo = Math.min(lo, w[n * K + k]);
        hi = Math.max(hi, w[n * K + k]);
      }
      let scale: number;
      let zero: number;
      if (sym) {
        zero = 2 ** (bits - 1);
        scale = Math.max(-lo, hi) / (zero - 1);
      } else {
        scale = (hi - lo) / qmax;
        zero = 0;
      }
      // Round the scale to f16 (what is stored) and quantize with it.
      const s16 = float32ToHalfBytes(Float32Array.of(scale), 'F16');
      const s = f16BitsToNumber(s16[0] | (s16[1] << 8));
      scaleValues[n * nBlocks + b] = s;
      if (!sym) zero = s > 0 ? Math.min(qmax, Math.max(0, Math.round(-lo / s))) : 0;
      zeroCodes[n * nBlocks + b] = zero;
      for (let k = k0; k < k0 + G; k++) {
        const q = k < k1 && s > 0 ? Math.min(qmax, Math.max(0, Math.round(w[n * K + k] / s) + zero)) : zero;
        const at = n * nBlocks * blob + (b * G * bits) / 8;
        const kk = k - k0;
        if (bits === 8) qweight[at + kk] = q;
        else qweight[at + (kk >> 1)] |= kk & 1 ? q << 4 : q;
      }
    }
  }
  const scales: RawTensor = { dtype: 'F16', shape: [N, nBlocks], data: float32ToHalfBytes(scaleValues, 'F16') };
  let qzeros: RawTensor | null = null;
  if (!sym) {
    if (bits === 8) qzeros = { dtype: 'U8', shape: [N, nBlocks], data: zeroCodes };
    else {
      const zb = Math.ceil(nBlocks / 2);
      const data = new Uint8Array(N * zb);
      for (let n = 0; n < N; n++) for (let b = 0; b < nBlocks; b++) data[n * zb + (b >> 1)] |= b & 1 ? zeroCodes[n * nBlocks + b] << 4 : zeroCodes[n * nBlocks + b];
      qzeros = { dtype: 'U8', shape: [N, zb], data };
    }
  }
  return { qweight: { dtype: 'U8', shape: [N, nBlocks, blob], data: qweight }, scales, qzeros };
}
