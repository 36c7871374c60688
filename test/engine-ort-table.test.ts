/**
 * The token embedding table as the Node engine holds it (src/lm/memory-plan.ts `tableDType`): lookups-only tables
 * keep their stored 16-bit values and widen exactly; a tied table under int8/int4 is one int8 copy whose lookups
 * are its dequantized rows and whose output projection runs through MatMulNBits — split into row slabs when large,
 * which must not change a single output bit. Quantizing a large float weight a slab of rows at a time gives the
 * same codes as quantizing it whole.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import * as path from 'node:path';
import { tf } from '../src/tf.js';
import '../node/index.js';
import { selectNodeBackend } from '../node/backend.js';
import { Rng } from '../src/util/rng.js';
import { float32ToRaw, rawToFloat32 } from '../src/io/safetensors.js';
import { dequantizeRows, quantizeNBits } from '../src/quant/nbits.js';
import { weightToNBits } from '../src/quant/weight-convert.js';
import { tableDType } from '../src/lm/memory-plan.js';
import { placeOrtWeight } from '../node/ort/frozen-weights.js';
import { openSource } from '../node/folder-source.js';
import { loadLMM } from '../src/lmm/load.js';
import { tmpDir } from './helpers/tiny-vector.js';

await selectNodeBackend({ force: 'wasm+onnxruntime', quiet: true });
const root = await tmpDir('mt-table-');
after(() => rm(root, { recursive: true, force: true }));
const rng = new Rng(23);
const rand = (n: number, scale = 0.05) => Float32Array.from({ length: n }, () => rng.normal() * scale);

test('tableDType: stored 16-bit for lookups only, int8 for a tied head under int8/int4, else f32', () => {
  assert.equal(tableDType('int4', false, 'BF16'), 'bf16');
  assert.equal(tableDType('f32', false, 'F16'), 'f16');
  assert.equal(tableDType('int8', false, 'F32'), 'f32');
  assert.equal(tableDType('int4', true, 'BF16'), 'int8');
  assert.equal(tableDType('int8', true, 'F32'), 'int8');
  for (const d of ['f32', 'f16', 'bf16'] as const) assert.equal(tableDType(d, true, 'BF16'), 'f32');
});

test('a lookups-only bf16 table keeps the stored bits: rows widen exactly, and it refuses a matmul', async () => {
  const [v, d] = [50, 24];
  const raw = float32ToRaw(rand(v * d), [v, d], 'BF16');
  const want = rawToFloat32(raw);
  const t = placeOrtWeight('embed', { kind: 'float', raw }, 'bf16', { gradients: false, table: 'lookup' });
  assert.equal(t.byteLength, v * d * 2);
  const ids = [[3, 0, 49], [7, 7, 1]];
  const got = t.gatherRows!(tf.tensor2d(ids, undefined, 'int32'));
  assert.deepEqual(got.shape, [2, 3, d]);
  const g = got.dataSync();
  ids.flat().forEach((r, i) => assert.deepEqual([...g.subarray(i * d, (i + 1) * d)], [...want.subarray(r * d, (r + 1) * d)], `row ${r}`));
  assert.throws(() => t.gatherRows!(tf.tensor1d([50], 'int32')), /embed: token id 50 is outside the table \(50 rows\)/);
  assert.throws(() => t.matmul(tf.zeros([1, d])), /held as stored bf16 for lookups only/);
  t.dispose();
});

test('a tied int8 table: lookups are the dequantized rows; the head split into slabs equals it whole, bit for bit', async () => {
  const [v, d] = [203, 64]; // 203 rows in slabs of 40: the last slab is short
  const w = rand(v * d);
  const raw = float32ToRaw(w, [v, d], 'BF16');
  const codes = quantizeNBits(rawToFloat32(raw), { n: v, k: d, bits: 8, groupSize: 32 });
  const deq = dequantizeRows(codes);
  const whole = placeOrtWeight('tied', { kind: 'float', raw }, 'int8', { gradients: true, table: 'tied' });
  process.env.MULTI_TOKEN_ORT_SLAB_VALUES = String(40 * d);
  const slabbed = placeOrtWeight('tied.slabs', { kind: 'float', raw }, 'int8', { gradients: true, table: 'tied' });
  delete process.env.MULTI_TOKEN_ORT_SLAB_VALUES;
  assert.equal(whole.dtype, 'int8');
  assert.deepEqual([...slabbed.toFloat32()], [...deq]);
  const rows = slabbed.gatherRows!(tf.tensor1d([0, 202, 77], 'int32')).dataSync();
  [0, 202, 77].forEach((r, i) => assert.deepEqual([...rows.subarray(i * d, (i + 1) * d)], [...deq.subarray(r * d, (r + 1) * d)], `row ${r}`));
  for (const m of [1, 3]) {
    const x = tf.tensor2d(rand(m * d, 1), [m, d]);
    const a = whole.matmul(x).dataSync();
    const b = slabbed.matmul(x).dataSync();
    assert.deepEqual([...b], [...a], `${m} row(s): slabs vs whole`);
    // And both are x · dequantized codesᵀ, up to the kernel's int8 activations (~1%).
    const ref = tf.matMul(x, tf.tensor2d(deq, [v, d]), false, true).dataSync();
    const scale = Math.max(...ref.map(Math.abs));
    assert.ok(a.every((y, i) => Math.abs(y - ref[i]!) <= 2e-2 * scale), `${m} row(s) vs reference`);
    // The gradient through the tied head, dy · W, summed over slabs.
    const dy = tf.tensor2d(rand(m * v, 1), [m, v]);
    const ga = whole.matmulTransposed(dy).dataSync();
    const gb = slabbed.matmulTransposed(dy).dataSync();
    const gref = tf.matMul(dy, tf.tensor2d(deq, [v, d])).dataSync();
    const gs = Math.max(...gref.map(Math.abs));
    assert.ok(gb.every((y, i) => Math.abs(y - gref[i]!) <= 1e-5 * gs && Math.abs(y - ga[i]!) <= 1e-5 * gs), `${m} row(s): dy·W`);
  }
  whole.dispose();
  slabbed.dispose();
});

test('quantizing a large float weight a slab of rows at a time gives the codes of quantizing it whole', () => {
  const [n, k] = [37, 96];
  const raw = float32ToRaw(rand(n * k), [n, k], 'BF16');
  for (const bits of [4, 8] as const) {
    const whole = quantizeNBits(rawToFloat32(raw), { n, k, bits, groupSize: 32 });
    const slabs = weightToNBits({ kind: 'float', raw }, bits, 32, 'w', 5 * k);
    assert.deepEqual(slabs.qweight, whole.qweight, `int${bits} codes`);
    assert.deepEqual(slabs.scales, whole.scales, `int${bits} scales`);
    assert.deepEqual(slabs.qzeros, whole.qzeros, `int${bits} zero points`);
  }
});

test('a tied bf16 checkpoint at --dtype int8/int4 holds one int8 table for lookups and head; int8 logits stay close to f32', async () => {
  const { tinyFiles } = await import('../node/commands/make-tiny.js');
  const { writeDirAtomic } = await import('../node/atomic-write.js');
  const dir = path.join(root, 'tied-bf16');
  await writeDirAtomic(dir, await tinyFiles({ out: dir, arch: 'qwen2', seed: 5, hidden_size: 64, intermediate_size: 128, layers: 2, heads: 4, kv_heads: 2, dtype: 'BF16' }));
  const f32 = await loadLMM(dir, { open: openSource });
  const q = await loadLMM(dir, { open: openSource, dtype: 'int8' });
  assert.equal(f32.lm.frozenEmbed?.dtype, 'f32');
  assert.equal(q.lm.frozenEmbed?.dtype, 'int8');
  assert.equal(q.lm.lmHead, null, 'tied: no separate head');
  const ids = tf.tensor2d([f32.tokenizer.encode('the quick brown fox jumps over')], undefined, 'int32');
  const a = f32.lm.forward({ inputIds: ids }).logits!.dataSync() as Float32Array;
  const b = q.lm.forward({ inputIds: ids }).logits!.dataSync() as Float32Array;
  const scale = Math.max(...a.map(Math.abs));
  const worst = a.reduce((m, y, i) => Math.max(m, Math.abs(y - b[i]!)), 0);
  assert.ok(worst <= 5e-2 * scale, `int8 vs f32 logits: worst ${worst} of ${scale}`);
  const q4 = await loadLMM(dir, { open: openSource, dtype: 'int4' });
  assert.equal(q4.lm.frozenEmbed?.dtype, 'int8', 'int4 Linears, int8 table');
  f32.dispose();
  q.dispose();
  q4.dispose();
});
