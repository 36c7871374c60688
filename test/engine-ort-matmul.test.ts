/**
 * The Node CPU engine (node/ort/): matmuls on the wasm and cpu backends run in onnxruntime and agree with an
 * independent float64 reference on random shapes, transposes and broadcast batches, forward and backward; fused
 * bias + activation; and frozen Linear weights (f32, f16, int8, int4) multiply like their dequantized matrices.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import '@tensorflow/tfjs-backend-wasm';
import { tf } from '../src/tf.js';
import { Rng } from '../src/util/rng.js';
import { f16BitsToNumber } from '../src/io/half-float.js';
import { float32ToRaw } from '../src/io/safetensors.js';
import { dequantizeRows, quantizeNBits } from '../src/quant/nbits.js';
import { frozenMatMul } from '../src/nn/frozen-weight.js';
import { installOrtEngine, uninstallOrtEngine } from '../node/ort/engine.js';
import { ortStats } from '../node/ort/binding.js';
import { placeOrtWeight } from '../node/ort/frozen-weights.js';

after(async () => {
  uninstallOrtEngine('wasm');
  uninstallOrtEngine('cpu');
  await tf.setBackend('cpu');
});

const rng = new Rng(11);
const randn = (shape: number[]) => tf.tensor(Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.normal()), shape);

/** float64 reference of tfjs matMul semantics (transposes of the last two dims, numpy batch broadcast). */
function refMatMul(a: tf.Tensor, b: tf.Tensor, ta: boolean, tb: boolean): { values: Float64Array; shape: number[] } {
  const av = a.dataSync();
  const bv = b.dataSync();
  const [ar, ac] = a.shape.slice(-2) as [number, number];
  const [br, bc] = b.shape.slice(-2) as [number, number];
  const [m, k] = ta ? [ac, ar] : [ar, ac];
  const n = tb ? br : bc;
  const ab = a.shape.slice(0, -2);
  const bb = b.shape.slice(0, -2);
  const rank = Math.max(ab.length, bb.length);
  const batch = Array.from({ length: rank }, (_, i) => Math.max(ab[ab.length - rank + i] ?? 1, bb[bb.length - rank + i] ?? 1));
  const count = batch.reduce((x, y) => x * y, 1);
  const out = new Float64Array(count * m * n);
  const index = (dims: number[], flat: number) => {
    // flat batch index in the broadcast shape → flat index in `dims` (right-aligned, size-1 dims broadcast)
    let rem = flat;
    let idx = 0;
    let stride = 1;
    for (let i = rank - 1; i >= 0; i--) {
      const coord = rem % batch[i]!;
      rem = Math.floor(rem / batch[i]!);
      const d = dims[dims.length - rank + i] ?? 1;
      idx += (d === 1 ? 0 : coord) * stride;
      stride *= d;
    }
    return idx;
  };
  for (let p = 0; p < count; p++) {
    const ao = index(ab, p) * ar * ac;
    const bo = index(bb, p) * br * bc;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let q = 0; q < k; q++) s += av[ao + (ta ? q * ac + i : i * ac + q)]! * bv[bo + (tb ? j * bc + q : q * bc + j)]!;
        out[(p * m + i) * n + j] = s;
      }
    }
  }
  return { values: out, shape: [...batch, m, n] };
}

function maxRelDiff(got: ArrayLike<number>, want: ArrayLike<number>): number {
  let scale = 1e-6;
  for (let i = 0; i < want.length; i++) scale = Math.max(scale, Math.abs(want[i]!));
  let d = 0;
  for (let i = 0; i < want.length; i++) d = Math.max(d, Math.abs(got[i]! - want[i]!));
  return d / scale;
}

const CASES: [number[], number[], boolean, boolean][] = [
  [[33, 70], [70, 41], false, false],
  [[70, 33], [70, 41], true, false],
  [[33, 70], [41, 70], false, true],
  [[70, 33], [41, 70], true, true],
  [[3, 17, 40], [3, 40, 29], false, false],
  [[3, 17, 40], [40, 29], false, false],
  [[2, 1, 17, 40], [1, 3, 29, 40], false, true],
  [[2, 5, 40, 17], [2, 5, 40, 29], true, false],
  [[1, 128, 96], [96, 200], false, false],
];

for (const host of ['wasm', 'cpu']) {
  test(`${host} + onnxruntime: matMul equals a float64 reference (transposes, batches, broadcast)`, async () => {
    await tf.setBackend(host);
    installOrtEngine(host);
    const runs = ortStats.runs;
    for (const [as, bs, ta, tb] of CASES) {
      const a = randn(as);
      const b = randn(bs);
      const y = tf.matMul(a, b, ta, tb);
      const ref = refMatMul(a, b, ta, tb);
      assert.deepEqual(y.shape, ref.shape, `${as} x ${bs} ${ta} ${tb}`);
      const d = maxRelDiff(y.dataSync(), ref.values);
      assert.ok(d < 1e-5, `${host} ${as} x ${bs} ta=${ta} tb=${tb}: relative difference ${d}`);
      tf.dispose([a, b, y]);
    }
    assert.ok(ortStats.runs - runs >= CASES.length - 1, 'the products ran in onnxruntime');
  });

  test(`${host} + onnxruntime: gradients equal the backend's own kernels; fused bias + relu`, async () => {
    await tf.setBackend(host);
    // tfjs's own matMul gradient does not reduce broadcast batch dims, so those cases are left out here.
    for (const [as, bs, ta, tb] of CASES.filter(([as, bs]) => as.length === bs.length && as.slice(0, -2).join() === bs.slice(0, -2).join())) {
      const a = randn(as);
      const b = randn(bs);
      const r = randn(tf.matMul(a, b, ta, tb).shape);
      const grads = () => {
        const g = tf.grads((x: tf.Tensor, w: tf.Tensor) => tf.sum(tf.mul(tf.matMul(x, w, ta, tb), r)))([a, b]);
        return g.map((t) => Array.from(t.dataSync()));
      };
      installOrtEngine(host);
      const [ga, gb] = grads();
      uninstallOrtEngine(host);
      const [wa, wb] = grads();
      installOrtEngine(host);
      assert.ok(maxRelDiff(ga!, wa!) < 1e-5 && maxRelDiff(gb!, wb!) < 1e-5, `${host} grads ${as} x ${bs} ta=${ta} tb=${tb}`);
    }
    const a = randn([20, 30]);
    const b = randn([30, 25]);
    const bias = randn([25]);
    const fused = tf.fused.matMul({ a, b, bias, activation: 'relu' });
    const ref = refMatMul(a, b, false, false).values.map((v, i) => Math.max(0, v + bias.dataSync()[i % 25]!));
    assert.ok(maxRelDiff(fused.dataSync(), ref) < 1e-5, 'fused bias + relu');
  });
}

test('frozen weights in onnxruntime: x·Wᵀ and dy·W for f32, f16, int8 and int4 (and the gradient through them)', async () => {
  await tf.setBackend('wasm');
  installOrtEngine('wasm');
  const n = 48;
  const k = 80; // not a multiple of the group: the last block is padded
  const w = Float32Array.from({ length: n * k }, () => rng.normal() * 0.1);
  const x = randn([5, k]);
  const dy = randn([5, n]);
  const raw = float32ToRaw(w, [n, k], 'F32');
  for (const dtype of ['f32', 'f16', 'int8', 'int4'] as const) {
    const fw = placeOrtWeight(`layer.${dtype}`, { kind: 'float', raw }, dtype, { gradients: true, groupSize: 32 });
    // What the engine should be multiplying by: W itself, W rounded to f16, or the dequantized codes.
    const held = dtype === 'f32' ? w
      : dtype === 'f16' ? Float32Array.from(new Uint16Array(float32ToRaw(w, [n, k], 'F16').data.buffer), f16BitsToNumber)
        : dequantizeRows(quantizeNBits(w, { n, k, bits: dtype === 'int4' ? 4 : 8, groupSize: 32 }));
    assert.deepEqual([...fw.toFloat32()], [...held], `${dtype}: the held weight`);
    const W = tf.tensor2d(held, [n, k]);
    const y = fw.matmul(x);
    // MatMulNBits (accuracy_level 4) quantizes activations to int8 per block: about 1% of |y|.
    const tol = dtype === 'int8' || dtype === 'int4' ? 2e-2 : 1e-5;
    assert.ok(maxRelDiff(y.dataSync(), refMatMul(x, W, false, true).values) < tol, `${dtype} forward`);
    const dx = fw.matmulTransposed(dy);
    assert.ok(maxRelDiff(dx.dataSync(), refMatMul(dy, W, false, false).values) < 1e-5, `${dtype} dy·W`);
    // Through tf.grad (what LoRA below a frozen layer sees).
    const g = tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(frozenMatMul(xx, fw), dy)))(x);
    assert.ok(maxRelDiff(g.dataSync(), refMatMul(dy, W, false, false).values) < 1e-5, `${dtype} gradient`);
    fw.dispose();
    tf.dispose([W, y, dx, g]);
  }
  const packedOnly = placeOrtWeight('layer.inference', { kind: 'float', raw }, 'int4', { gradients: false });
  assert.throws(() => packedOnly.matmulTransposed(dy), /layer.inference: a gradient needs the int4 codes, which were released after packing/);
  packedOnly.dispose();
});

test('int8 and int4 at Qwen2-0.5B\'s MLP shapes (4864×896, 896×4864): onnxruntime multiplies by the dequantized codes', async () => {
  // bench/scale.ts saw int4 greedy tokens part from f32 on random real-size models; this pins that the kernel is
  // not the cause at those shapes (many blocks per row, K not a power of two): the only error left is its int8
  // activations, as at small shapes.
  await tf.setBackend('wasm');
  installOrtEngine('wasm');
  for (const [n, k] of [[4864, 896], [896, 4864]] as const) {
    const w = Float32Array.from({ length: n * k }, () => rng.normal() * 0.02);
    const raw = float32ToRaw(w, [n, k], 'F32');
    const x = randn([3, k]);
    for (const bits of [8, 4] as const) {
      const fw = placeOrtWeight(`mlp.${n}x${k}.int${bits}`, { kind: 'float', raw }, bits === 4 ? 'int4' : 'int8', { gradients: false, groupSize: 32 });
      const W = tf.tensor2d(dequantizeRows(quantizeNBits(w, { n, k, bits, groupSize: 32 })), [n, k]);
      const y = fw.matmul(x);
      const d = maxRelDiff(y.dataSync(), refMatMul(x, W, false, true).values);
      assert.ok(d < 2e-2, `[${n}, ${k}] int${bits}: relative difference ${d}`);
      fw.dispose();
      tf.dispose([W, y]);
    }
  }
});
