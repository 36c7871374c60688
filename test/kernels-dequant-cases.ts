/**
 * Shared checks for the dequant kernels, run by test/kernels-dequant.test.ts (Node + Dawn) and by the page of
 * e2e/kernels-dequant.test.ts (headless Chromium). Isomorphic: no node: imports, no node:test.
 *
 * Each case packs a random weight (q4/q8 quantized by `multi-token quantize`'s quantizer, src/quant/nbits.ts;
 * f16/bf16/f32 as is), runs `dequantMatMul` on the active backend, and compares with the reference: the weight
 * dequantized on the CPU (`dequantizeRows` of src/quant/nbits.ts for q4/q8), then `tf.matMul` on the same backend. The tolerance is float32 summation error, relative
 * to Σ|x|·|w| of each output; a misread nibble, group or zero point is off by a whole quantization step.
 */
import { tf, type Tensor2D } from '../src/tf.js';
import { Rng } from '../src/util/rng.js';
import { float32ToHalfBytes } from '../src/io/half-float.js';
import { dequantize, packFloat, packNBits, packedLayout, type PackedFormat, type PackedWords } from '../kernels/packed-weight.js';
import { dequantMatMul, disposePacked, packedToTensors } from '../kernels/dequant-matmul.js';
import { quantizeNBits } from '../src/quant/nbits.js';

/** One problem: `x [M, K] · Wᵀ` with W `[N, K]` in `format`. */
export interface DequantCase {
  name: string;
  format: PackedFormat;
  M: number;
  N: number;
  K: number;
  groupSize?: number;
  zeros?: boolean;
  bias?: boolean;
  swiglu?: boolean;
}

/** Random weights packed in `c.format` (deterministic from `seed`). */
export function packRandom(c: DequantCase, seed: number): PackedWords {
  const rng = new Rng(seed);
  const w = new Float32Array(c.N * c.K);
  for (let i = 0; i < w.length; i++) w[i] = rng.normal() * 0.5;
  if (c.format === 'q4' || c.format === 'q8') {
    const m = quantizeNBits(w, { n: c.N, k: c.K, bits: c.format === 'q4' ? 4 : 8, groupSize: c.groupSize! }, !c.zeros, c.name);
    return packNBits(m, c.name);
  }
  const layout = packedLayout(c.format, c.N, c.K);
  if (c.format === 'f32') return packFloat(layout, w);
  const bytes = float32ToHalfBytes(w, c.format === 'f16' ? 'F16' : 'BF16');
  return packFloat(layout, new Uint16Array(bytes.buffer, bytes.byteOffset, w.length));
}

/**
 * The cases: every format on both sides of the matvec/matmul switch, sizes that divide nothing (K not a multiple
 * of 4 or of the group, N not a multiple of the 8-row workgroup or the 32-wide tile), asymmetric and symmetric
 * groups, bias and SwiGLU. Each (format, M ≤ 8) pair and each format's matmul is one pipeline, and SwiftShader
 * takes seconds to compile one, so the list spreads the M values over the formats instead of crossing them.
 */
export function dequantCases(): DequantCase[] {
  const q = (format: 'q4' | 'q8', M: number, N: number, K: number, groupSize: number, zeros: boolean, bias = false): DequantCase =>
    ({ name: `${format} M${M} N${N} K${K} G${groupSize} ${zeros ? 'asym' : 'sym'}${bias ? ' bias' : ''}`, format, M, N, K, groupSize, zeros, bias });
  const f = (format: 'f16' | 'bf16' | 'f32', M: number, N: number, K: number, bias = false): DequantCase =>
    ({ name: `${format} M${M} N${N} K${K}${bias ? ' bias' : ''}`, format, M, N, K, bias });
  return [
    q('q4', 1, 33, 64, 32, true),
    q('q4', 1, 9, 300, 128, false, true),
    q('q4', 3, 7, 37, 16, false),
    q('q4', 8, 70, 100, 64, true, true),
    q('q4', 9, 33, 40, 32, false),
    q('q4', 40, 70, 257, 128, true, true),
    q('q4', 33, 1, 4, 16, false),
    q('q8', 1, 33, 64, 32, true),
    q('q8', 1, 5, 37, 16, false, true),
    q('q8', 9, 33, 40, 16, true),
    q('q8', 40, 70, 257, 128, false),
    f('f16', 1, 33, 65),
    f('f16', 40, 70, 257, true),
    f('bf16', 1, 70, 100, true),
    f('bf16', 9, 33, 38),
    f('f32', 3, 7, 37),
    f('f32', 33, 1, 4, true),
    { name: 'q4 swiglu M1', format: 'q4', M: 1, N: 2 * 40, K: 96, groupSize: 32, zeros: true, bias: true, swiglu: true },
    { name: 'f16 swiglu M1', format: 'f16', M: 1, N: 2 * 9, K: 30, swiglu: true },
  ];
}

/** Result of one case: the worst error relative to the tolerance (≤ 1 passes). */
export interface DequantCheck {
  name: string;
  worst: number;
  error?: string;
}

/** Runs one case on the active backend. */
export async function checkDequant(c: DequantCase, seed: number, shape?: 'lanes' | 'rows'): Promise<DequantCheck> {
  const packed = packRandom(c, seed);
  const rng = new Rng(seed + 1);
  const xv = Float32Array.from({ length: c.M * c.K }, () => rng.normal());
  const bv = Float32Array.from({ length: c.N }, () => rng.normal());
  const pt = packedToTensors(packed);
  const x = tf.tensor2d(xv, [c.M, c.K]);
  const bias = c.bias ? tf.tensor1d(bv) : null;
  try {
    const y = dequantMatMul(x, pt, { bias, swiglu: c.swiglu, shape });
    const got = (await y.data()) as Float32Array;
    y.dispose();
    const W = tf.tensor2d(dequantize(packed), [c.N, c.K]);
    const { ref, bound } = tf.tidy(() => {
      let r = tf.matMul(x, W, false, true);
      let absb = tf.matMul(tf.abs(x), tf.abs(W), false, true);
      if (bias) {
        r = tf.add(r, bias);
        absb = tf.add(absb, tf.abs(bias));
      }
      if (c.swiglu) {
        const [g, u] = tf.split(r, 2, 1);
        const [ag, au] = tf.split(absb, 2, 1);
        r = tf.mul(tf.mul(g, tf.sigmoid(g)), u);
        absb = tf.mul(3, tf.mul(tf.add(ag, 1), tf.add(au, 1)));
      }
      return { ref: r as Tensor2D, bound: absb as Tensor2D };
    });
    W.dispose();
    const want = (await ref.data()) as Float32Array;
    const mag = (await bound.data()) as Float32Array;
    ref.dispose();
    bound.dispose();
    if (got.length !== want.length) return { name: c.name, worst: Infinity, error: `${c.name}: ${got.length} outputs, expected ${want.length}` };
    let worst = 0;
    let at = -1;
    for (let i = 0; i < got.length; i++) {
      const tol = (c.K * 2.4e-7 + 1e-6) * mag[i] + 1e-6;
      const r = Math.abs(got[i] - want[i]) / tol;
      if (!(r <= worst)) {
        worst = r;
        at = i;
      }
    }
    const error = worst <= 1 ? undefined : `${c.name}${shape ? ` (${shape})` : ''}: output ${at} is ${got[at]}, reference ${want[at]} (${worst.toFixed(1)}× the tolerance)`;
    return { name: c.name, worst, error };
  } finally {
    x.dispose();
    bias?.dispose();
    disposePacked(pt);
  }
}
