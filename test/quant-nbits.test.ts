/**
 * The MatMulNBits layout (docs/quantization.md): hand-computed packing, the quantizer's error bound, the
 * streaming safetensors writer (byte-identical to the in-memory one), tensor-by-tensor reads, and
 * `multi-token quantize` on a tiny checkpoint.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { f16BitsToNumber, numberToF16Bits } from '../src/io/half-float.js';
import { float32ToRaw, parseSafetensors, serializeSafetensors, type RawTensor } from '../src/io/safetensors.js';
import { LazyWeights } from '../src/io/lazy-weights.js';
import { MemorySource } from '../src/io/source.js';
import { blockCount, dequantizeRows, quantizeNBits, zeroPoint } from '../src/quant/nbits.js';
import { parseQuantizationConfig } from '../src/quant/config.js';
import { Rng } from '../src/util/rng.js';
import { FolderSource } from '../node/folder-source.js';
import { writeDirAtomic } from '../node/atomic-write.js';
import { safetensorsFileWriter } from '../node/io/safetensors-write.js';
import { quantizeFolder } from '../node/quantize/quantize-folder.js';
import { tinyFiles } from '../node/commands/make-tiny.js';

test('int4 packing by hand: even k in the low nibble, qzeros low nibble first, padding holds the zero point', () => {
  // One row, K = 20, G = 16 → 2 blocks; block 1 holds k = 16..19 and 12 padding codes.
  const w = Float32Array.from({ length: 20 }, (_, k) => (k < 16 ? k - 5 : 2 * (k - 16)));
  const m = quantizeNBits(w, { n: 1, k: 20, bits: 4, groupSize: 16 });
  assert.deepEqual([m.n, m.k, blockCount(m)], [1, 20, 2]);
  assert.equal(m.qweight.length, 2 * 8);
  // Block 0 spans [-5, 10] → s = 1 (exact in f16), z = 5: codes are k itself.
  assert.equal(f16BitsToNumber(m.scales[0]!), 1);
  assert.equal(zeroPoint(m, 0, 0), 5);
  assert.equal(m.qweight[0], 0x10); // k=0 → code 0 (low), k=1 → code 1 (high)
  assert.equal(m.qweight[7], 0xfe); // k=14 → 14, k=15 → 15
  // Block 1 spans [0, 6] → s = 6/15 = 0.4, rounded up to the next f16 (0.40015…), z = 0; codes 0, 5, 10, 15.
  const s1 = f16BitsToNumber(m.scales[1]!);
  assert.equal(s1, f16BitsToNumber(numberToF16Bits(0.4) + 1));
  assert.ok(s1 > 0.4 && s1 < 0.4002);
  assert.equal(zeroPoint(m, 0, 1), 0);
  assert.deepEqual([...m.qweight.subarray(8, 10)], [0x50, 0xfa]);
  assert.deepEqual([...m.qweight.subarray(10, 16)], [0, 0, 0, 0, 0, 0]); // padding = zero point 0
  assert.deepEqual([...m.qzeros!], [0x05]); // z0 = 5 (low), z1 = 0 (high)
  const back = dequantizeRows(m);
  w.forEach((v, k) => assert.ok(Math.abs(back[k]! - v) <= 15 * (s1 - 0.4) + 1e-9, `k=${k}: ${back[k]} vs ${v}`));
});

test('int8 symmetric: no qzeros, zero point 128, codes one per byte', () => {
  const w = Float32Array.of(-127, 0, 63.5, 127);
  const m = quantizeNBits(w, { n: 1, k: 4, bits: 8, groupSize: 16 }, true);
  assert.equal(m.qzeros, null);
  assert.equal(zeroPoint(m, 0, 0), 128);
  assert.equal(f16BitsToNumber(m.scales[0]!), 1);
  assert.deepEqual([...m.qweight.subarray(0, 4)], [1, 128, 192, 255]); // 63.5 rounds half up to 64
  assert.deepEqual([...m.qweight.subarray(4)], new Array(12).fill(128));
});

test('round-to-nearest error is at most half a step per weight (random matrices, both bit widths, both modes)', () => {
  const rng = new Rng(3);
  for (const bits of [4, 8] as const) {
    for (const sym of [false, true]) {
      const n = 7;
      const k = 100; // not a multiple of the group
      const w = Float32Array.from({ length: n * k }, () => rng.normal() * 0.05);
      const m = quantizeNBits(w, { n, k, bits, groupSize: 32 }, sym);
      const back = dequantizeRows(m);
      for (let r = 0; r < n; r++) {
        for (let kk = 0; kk < k; kk++) {
          const s = f16BitsToNumber(m.scales[r * blockCount(m) + Math.floor(kk / 32)]!);
          const err = Math.abs(back[r * k + kk]! - w[r * k + kk]!);
          assert.ok(err <= s / 2 + 1e-7, `bits ${bits} sym ${sym} [${r}, ${kk}]: error ${err} > s/2 = ${s / 2}`);
        }
      }
      // A row range matches the whole-matrix result.
      assert.deepEqual([...dequantizeRows(m, 2, 4)], [...back.subarray(2 * k, 4 * k)]);
    }
  }
});

test('quantization_config: parsed, and foreign methods refused with a way out', () => {
  const ok = parseQuantizationConfig({ quantization_config: { quant_method: 'matmul_nbits', bits: 4, group_size: 32, modules_not_to_convert: ['lm_head'] } }, 'x');
  assert.deepEqual(ok, { quantMethod: 'matmul_nbits', bits: 4, groupSize: 32, sym: false, modulesNotToConvert: ['lm_head'] });
  assert.equal(parseQuantizationConfig({}, 'x'), null);
  assert.throws(() => parseQuantizationConfig({ quantization_config: { quant_method: 'gptq', bits: 4 } }, '/m/config.json'),
    /\/m\/config.json: quantization_config.quant_method is "gptq"; this project loads "matmul_nbits".*multi-token quantize/);
  assert.throws(() => parseQuantizationConfig({ quantization_config: { quant_method: 'matmul_nbits', bits: 3, group_size: 32 } }, 'x'), /bits must be 4 or 8/);
});

test('streamed safetensors file is byte-identical to serializeSafetensors, and LazyWeights reads it tensor by tensor', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'mt-st-'));
  try {
    const tensors = new Map<string, RawTensor>([
      ['b.weight', float32ToRaw(Float32Array.of(1, 2, 3, 4, 5, 6), [2, 3], 'F32')],
      ['a.scales', float32ToRaw(Float32Array.of(0.5, 0.25), [2], 'F16')],
      ['a.qweight', { dtype: 'U8', shape: [3], data: Uint8Array.of(1, 2, 3) }],
    ]);
    const file = path.join(dir, 'model.safetensors');
    await safetensorsFileWriter([...tensors].map(([name, t]) => ({ name, dtype: t.dtype, shape: t.shape, produce: () => t.data })))(file);
    const bytes = new Uint8Array(await readFile(file));
    assert.deepEqual(bytes, serializeSafetensors(tensors, { format: 'pt' }));
    const lazy = await LazyWeights.open(new FolderSource(dir));
    assert.deepEqual(lazy.keys().sort(), ['a.qweight', 'a.scales', 'b.weight']);
    assert.deepEqual(lazy.info('b.weight'), { name: 'b.weight', dtype: 'F32', shape: [2, 3], nbytes: 24 });
    assert.deepEqual([...(await lazy.read('b.weight')).data], [...tensors.get('b.weight')!.data]);
    // A source without byte ranges reads the whole file once and serves the same bytes.
    const mem = await LazyWeights.open(new MemorySource({ 'model.safetensors': bytes }));
    assert.deepEqual([...(await mem.read('a.qweight')).data], [1, 2, 3]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('multi-token quantize: decoder Linears become qweight/scales/qzeros, the rest is copied, config says how', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'mt-quant-'));
  try {
    await writeDirAtomic(path.join(dir, 'f32'), await tinyFiles({ out: '', arch: 'llama', seed: 2, hidden_size: 64, intermediate_size: 96, layers: 2, heads: 4, kv_heads: 2 }));
    const r = await quantizeFolder({ model: path.join(dir, 'f32'), out: path.join(dir, 'q4'), bits: 4, progress: false });
    assert.equal(r.quantized, 2 * 7);
    const src = parseSafetensors(new Uint8Array(await readFile(path.join(dir, 'f32', 'model.safetensors')))).tensors;
    const out = parseSafetensors(new Uint8Array(await readFile(path.join(dir, 'q4', 'model.safetensors')))).tensors;
    assert.ok(!out.has('model.layers.0.mlp.up_proj.weight'));
    assert.deepEqual(out.get('model.layers.0.mlp.up_proj.qweight')!.shape, [96, 2, 16]);
    assert.deepEqual(out.get('model.layers.0.mlp.up_proj.scales')!.shape, [96, 2]);
    assert.deepEqual(out.get('model.layers.0.mlp.up_proj.qzeros')!.shape, [96, 1]);
    assert.deepEqual(out.get('model.layers.1.mlp.down_proj.qweight')!.shape, [64, 3, 16]);
    // lm_head, the embedding table and norms are copied byte for byte.
    for (const name of ['lm_head.weight', 'model.embed_tokens.weight', 'model.norm.weight']) {
      assert.deepEqual(out.get(name)!.data, src.get(name)!.data, name);
    }
    // The codes dequantize to the source within half a step.
    const w = new Float32Array(src.get('model.layers.0.self_attn.q_proj.weight')!.data.slice().buffer);
    const q = quantizeNBits(w, { n: 64, k: 64, bits: 4, groupSize: 32 });
    assert.deepEqual(out.get('model.layers.0.self_attn.q_proj.qweight')!.data, q.qweight);
    const config = JSON.parse(await readFile(path.join(dir, 'q4', 'config.json'), 'utf8'));
    assert.deepEqual(config.quantization_config, { quant_method: 'matmul_nbits', bits: 4, group_size: 32, sym: false, modules_not_to_convert: ['lm_head'] });
    assert.equal(await readFile(path.join(dir, 'q4', 'tokenizer.json'), 'utf8'), await readFile(path.join(dir, 'f32', 'tokenizer.json'), 'utf8'));
    await assert.rejects(quantizeFolder({ model: path.join(dir, 'q4'), out: path.join(dir, 'qq'), bits: 4, progress: false }), /already quantized/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
