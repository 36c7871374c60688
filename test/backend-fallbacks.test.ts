/**
 * The wasm BatchMatMul wrapper (src/backend-fallbacks.ts) against the unwrapped wasm kernel (bit for bit) and the
 * cpu backend (an independent implementation, within float32 summation error): batched products above and below
 * the per-slice threshold, with every combination of transposes, and a broadcast batch that must not be sliced.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import '@tensorflow/tfjs-backend-wasm';
import { tf } from '../src/tf.js';
import { installKernelFallbacks, SLICE_MIN_WORK } from '../src/backend-fallbacks.js';

interface Case {
  name: string;
  a: number[];
  b: number[];
  transposeA: boolean;
  transposeB: boolean;
}

/** Deterministic values in [-1, 1) with no common structure between operands. */
function values(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 31) - 1);
}

const cases: Case[] = [];
// [m, k, n] per slice: well above the threshold, just above it, and below it (the plain loop).
const sizes: [string, number, number, number][] = [
  ['above', 48, 40, 36],
  ['just above', 32, 32, 32],
  ['below', 8, 6, 5],
];
for (const [label, m, k, n] of sizes) {
  for (const transposeA of [false, true]) {
    for (const transposeB of [false, true]) {
      cases.push({
        name: `${label} (${m}·${k}·${n}) batch 3, transposeA ${transposeA}, transposeB ${transposeB}`,
        a: transposeA ? [3, k, m] : [3, m, k],
        b: transposeB ? [3, n, k] : [3, k, n],
        transposeA,
        transposeB,
      });
    }
  }
}
// Rank-4 batch (attention: [batch, heads, T, d]) and a broadcast right operand (batch 1: not sliceable).
cases.push({ name: 'rank 4 [2, 3] batch, q·kᵀ', a: [2, 3, 40, 32], b: [2, 3, 40, 32], transposeA: false, transposeB: true });
cases.push({ name: 'broadcast b (batch 1)', a: [3, 48, 40], b: [1, 40, 36], transposeA: false, transposeB: false });

async function matmuls(backend: string): Promise<Float32Array[]> {
  assert.ok(await tf.setBackend(backend), `tf.setBackend('${backend}')`);
  const out: Float32Array[] = [];
  cases.forEach((c, i) => {
    const a = tf.tensor(values(c.a.reduce((x, y) => x * y), 2 * i + 1), c.a);
    const b = tf.tensor(values(c.b.reduce((x, y) => x * y), 2 * i + 2), c.b);
    const y = tf.matMul(a, b, c.transposeA, c.transposeB);
    out.push(y.dataSync() as Float32Array);
    tf.dispose([a, b, y]);
  });
  return out;
}

test('the cases straddle the per-slice threshold', () => {
  const work = sizes.map(([, m, k, n]) => m * k * n);
  assert.ok(work[0]! >= 2 * SLICE_MIN_WORK && work[1]! >= SLICE_MIN_WORK && work[2]! < SLICE_MIN_WORK, `${work} vs ${SLICE_MIN_WORK}`);
});

test('wrapped wasm BatchMatMul: bit-identical to the original kernel, and equal to the cpu backend', async () => {
  const original = await matmuls('wasm'); // before the wrapper is installed
  assert.ok(installKernelFallbacks('wasm').includes('BatchMatMul(transpose first)'));
  const wrapped = await matmuls('wasm');
  const cpu = await matmuls('cpu');
  cases.forEach((c, i) => {
    assert.equal(wrapped[i]!.length, original[i]!.length, c.name);
    const differing = wrapped[i]!.findIndex((v, j) => !Object.is(v, original[i]![j]));
    assert.equal(differing, -1, `${c.name}: element ${differing} differs from the original wasm kernel`);
    let worst = 0;
    wrapped[i]!.forEach((v, j) => (worst = Math.max(worst, Math.abs(v - cpu[i]![j]!))));
    // Sums of ≤ 48 products of values in [-1, 1): float32 rounding stays far below 1e-5.
    assert.ok(worst < 1e-5, `${c.name}: differs from the cpu backend by ${worst}`);
  });
});
