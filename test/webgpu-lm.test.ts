/**
 * The WebGPU decode engine (src/webgpu/) in Node on Dawn + SwiftShader, against the tfjs model (cpu backend) on
 * the same weights: tiny Llama / Qwen2 / Mistral checkpoints stored quantized (QUANT-LAYOUT.md, q4 and q8) or as
 * F16 / BF16 / F32, loaded through the streamed path. Greedy tokens must be equal and the logits after the
 * prompt within float32 rounding; the decode step's dispatches, readback and buffer creation are counted on the
 * device. Skips the GPU tests (saying why) where Node has no WebGPU adapter, unless MULTI_TOKEN_REQUIRE_ALL=1.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { startNodeWebGPU } from './helpers/node-webgpu.js';
import { skipMissingTool } from './helpers/missing-tool.js';
import { tf } from '../src/tf.js';
import { MemorySource } from '../src/io/source.js';
import { WeightStore } from '../src/io/weights.js';
import { float32ToRaw, rawToFloat32 } from '../src/io/safetensors.js';
import { float32ToHalfBytes, f16BytesToFloat32 } from '../src/io/half-float.js';
import { LlamaForCausalLM } from '../src/lm/llama.js';
import { generate } from '../src/lm/generate.js';
import { loadWebGPULM, planWebGPULM } from '../src/webgpu/load-lm.js';
import { checkFits, ModelTooLargeError } from '../src/webgpu/lm-plan.js';
import { requestLMDevice, type LMDevice } from '../src/webgpu/gpu-context.js';
import type { WebGPULM } from '../src/webgpu/lm-engine.js';
import { tinyQuantized, type TinyQuantized, type TinyQuantizedOptions } from './helpers/tiny-quantized.js';

let skip: string | false = false;
let dev: LMDevice;
before(async () => {
  await tf.setBackend('cpu');
  skip = await startNodeWebGPU();
  if (skip) return;
  dev = await requestLMDevice();
});

const PROMPT = [3, 17, 42, 5, 9, 60, 2, 11, 33, 70, 4, 8, 19];

/** Greedy tokens and last-position logits of the tfjs model on `reference` weights. */
async function tfjsReference(m: TinyQuantized, reference: TinyQuantized['reference'], n: number) {
  const lm = LlamaForCausalLM.fromWeights(m.config, new WeightStore(reference, 'reference'));
  try {
    const [tokens] = await generate(lm, { inputIds: [PROMPT] }, { maxNewTokens: n, stopTokenIds: [] });
    const { logits, hidden } = lm.forward({ inputIds: tf.tensor2d([PROMPT], undefined, 'int32'), logits: 'last' });
    hidden.dispose();
    const last = (await logits!.data()) as Float32Array;
    logits!.dispose();
    return { tokens, logits: last };
  } finally {
    lm.dispose();
  }
}

async function engineRun(lm: WebGPULM, n: number): Promise<{ tokens: number[]; logits: Float32Array }> {
  const first = lm.generate(Int32Array.from(PROMPT), { maxNewTokens: 1, stopTokenIds: [] });
  for await (const _ of first);
  const logits = await lm.debugLogits();
  const tokens: number[] = [];
  for await (const t of lm.generate(Int32Array.from(PROMPT), { maxNewTokens: n, stopTokenIds: [] })) tokens.push(t);
  return { tokens, logits };
}

function maxDiff(a: Float32Array, b: Float32Array): { diff: number; scale: number } {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return { diff, scale };
}

/** Loads `o` through the engine and checks it against tfjs. */
async function checkModel(t: { diagnostic(s: string): void }, o: TinyQuantizedOptions, load: Parameters<typeof loadWebGPULM>[1] = {}) {
  const m = tinyQuantized(o);
  const lm = await loadWebGPULM(new MemorySource(m.files), { device: dev, maxSeq: 48, prefillChunk: 5, ...load });
  try {
    const n = 10;
    const got = await engineRun(lm, n);
    const want = await tfjsReference(m, m.reference, n);
    const { diff, scale } = maxDiff(got.logits, want.logits);
    t.diagnostic(`${o.arch} ${o.bits ? `q${o.bits}` : o.dtype}: tokens ${got.tokens.join(' ')}; logits within ${diff.toExponential(1)} (max |logit| ${scale.toFixed(2)})`);
    assert.ok(diff <= 1e-4 * Math.max(1, scale), `logits differ by ${diff}`);
    assert.deepEqual(got.tokens, want.tokens);
    return lm;
  } catch (e) {
    lm.dispose();
    throw e;
  }
}

test('plan: q|k|v and gate|up fused, sizes from the headers only, and a clear refusal when a buffer cannot fit', async () => {
  const m = tinyQuantized({ arch: 'qwen2', bits: 4, groupSize: 16 });
  const { plan } = await planWebGPULM(new MemorySource(m.files), { maxSeq: 32 });
  const l0 = plan.layers[0];
  assert.deepEqual([l0.qkv.layout.format, l0.qkv.layout.N, l0.qkv.layout.K], ['q4', (4 + 2 * 2) * 16, 64]);
  assert.equal(l0.qkv.parts.map((p) => p.prefix.split('.').pop()).join(), 'q_proj,k_proj,v_proj');
  assert.ok(l0.qkv.hasBias);
  assert.deepEqual([l0.gateUp.layout.N, l0.down.layout.K], [2 * 96, 96]);
  assert.equal(plan.lmHead, null, 'tied');
  assert.equal(plan.memory.kvCache, 2 * 2 * 2 * 32 * 16 * 4);
  assert.throws(
    () => checkFits(plan, { maxBufferSize: 1000, maxStorageBufferBindingSize: 4096 }),
    (e: Error) => e instanceof ModelTooLargeError && /needs one buffer of .* above the adapter's limit of 0\.0 MB per buffer/.test(e.message) && /shorter context/.test(e.message),
  );
  assert.throws(() => checkFits(plan, { maxBufferSize: 1e9, maxStorageBufferBindingSize: 1e9, budgetBytes: 1000 }), /does not fit the GPU memory budget of 0\.0 MB: weights .* KV cache .* \(32 positions\)/);
  // A float checkpoint is told about int4 and f16.
  const f = tinyQuantized({ arch: 'llama', bits: null });
  const fp = (await planWebGPULM(new MemorySource(f.files))).plan;
  assert.throws(() => checkFits(fp, { maxBufferSize: 1e9, maxStorageBufferBindingSize: 1e9, budgetBytes: 1 }), /Use a smaller dtype: int4 .*; or f16 \(load with dtype "f16"\)/);
});

test('plan: a quantized tensor with the wrong shape is named', async () => {
  const m = tinyQuantized({ arch: 'llama', bits: 4, groupSize: 16 });
  const json = JSON.parse(new TextDecoder().decode(m.files.get('config.json')));
  json.quantization_config.group_size = 32; // the tensors were written with 16
  m.files.set('config.json', new TextEncoder().encode(JSON.stringify(json)));
  await assert.rejects(planWebGPULM(new MemorySource(m.files)), /weight "model\.layers\.0\.self_attn\.q_proj\.qweight" has shape \[64, 4, 8\], expected \[64, 2, 16\]/);
});

test('q4 Llama (asymmetric, group 16, untied lm_head): greedy tokens and logits equal tfjs on the dequantized weights, with either matvec shape', { timeout: 240_000 }, async (t) => {
  if (skip) return skipMissingTool(t, skip);
  // `rows` is what a CPU adapter (SwiftShader, here) gets by default, `lanes` what GPUs get.
  for (const matvecShape of ['rows', 'lanes'] as const) {
    const lm = await checkModel(t, { arch: 'llama', bits: 4, groupSize: 16, sym: false, tieWordEmbeddings: false }, { matvecShape });
    assert.equal(lm.ctx.matvecShape, matvecShape);
    lm.dispose();
  }
});

test('q8 Qwen2 (symmetric, q|k|v biases, tied embeddings with a quantized lm_head copy): greedy tokens and logits equal tfjs', { timeout: 240_000 }, async (t) => {
  if (skip) return skipMissingTool(t, skip);
  const lm = await checkModel(t, { arch: 'qwen2', bits: 8, groupSize: 32, sym: true, lmHead: true, seed: 11 });
  assert.equal(lm.plan.lmHead?.layout.format, 'q8', 'lm_head.qweight is used although the embeddings are tied');
  assert.equal(lm.plan.embed.layout.format, 'f32');
  lm.dispose();
});

test('BF16 Mistral with a 4-position sliding window: greedy tokens and logits equal tfjs', { timeout: 240_000 }, async (t) => {
  if (skip) return skipMissingTool(t, skip);
  (await checkModel(t, { arch: 'mistral', bits: null, dtype: 'BF16', extra: { sliding_window: 4 }, seed: 5 })).dispose();
});

test('an F32 checkpoint held as f16 (dtype "f16"): tokens equal tfjs on the f16-rounded weights', { timeout: 240_000 }, async (t) => {
  if (skip) return skipMissingTool(t, skip);
  const m = tinyQuantized({ arch: 'llama', bits: null, dtype: 'F32', seed: 9 });
  // The norms stay float32; every matrix (the embedding included) is rounded to f16.
  const rounded = new Map([...m.reference].map(([k, v]) => {
    if (v.shape.length !== 2) return [k, v];
    const f = rawToFloat32(v);
    return [k, float32ToRaw(f16BytesToFloat32(float32ToHalfBytes(f, 'F16'), f.length), v.shape, 'F32')];
  }));
  const lm = await loadWebGPULM(new MemorySource(m.files), { device: dev, maxSeq: 48, prefillChunk: 5, dtype: 'f16' });
  try {
    assert.equal(lm.plan.layers[0].qkv.layout.format, 'f16');
    const got = await engineRun(lm, 10);
    const want = await tfjsReference(m, rounded, 10);
    assert.deepEqual(got.tokens, want.tokens);
    const { diff, scale } = maxDiff(got.logits, want.logits);
    assert.ok(diff <= 1e-4 * Math.max(1, scale), `logits differ by ${diff}`);
    t.diagnostic(`f16 from F32: tokens ${got.tokens.join(' ')}; logits within ${diff.toExponential(1)}`);
  } finally {
    lm.dispose();
  }
});

test('decode steady state: 6 dispatches per layer, one 4-byte readback per token, no buffer created per token', { timeout: 240_000 }, async (t) => {
  if (skip) return skipMissingTool(t, skip);
  const m = tinyQuantized({ arch: 'llama', bits: 4, groupSize: 16, sym: false, tieWordEmbeddings: false });
  const lm = await loadWebGPULM(new MemorySource(m.files), { device: dev, maxSeq: 48, prefillChunk: 5 });
  const device = dev.device;
  const realCreate = device.createBuffer.bind(device);
  const realMap = GPUBuffer.prototype.mapAsync;
  let created = 0;
  let maps = 0;
  let mappedBytes = 0;
  try {
    const counts = lm.counts;
    assert.equal(counts.dispatchesPerLayer, 6);
    assert.equal(counts.dispatchesPerToken, 1 + 6 * 2 + 1 + 5); // embed, layers, lm_head, sampler
    let n = 0;
    for await (const _ of lm.generate(Int32Array.from(PROMPT), { maxNewTokens: 12, stopTokenIds: [] })) {
      if (++n === 2) {
        // From here on: steady-state decode.
        device.createBuffer = (d: GPUBufferDescriptor) => {
          created++;
          return realCreate(d);
        };
        GPUBuffer.prototype.mapAsync = function (mode: number, offset?: number, size?: number) {
          maps++;
          mappedBytes += size ?? this.size;
          return realMap.call(this, mode, offset, size);
        };
      }
    }
    assert.equal(n, 12);
    assert.equal(created, 0, 'buffers created during decode');
    assert.equal(maps, 10, 'one readback per decoded token');
    t.diagnostic(`${counts.dispatchesPerToken} dispatches per token (${counts.dispatchesPerLayer} per layer), ${maps} readbacks of ${mappedBytes / maps} bytes mapped (4 used) for 10 tokens, 0 buffers created`);
    assert.ok(mappedBytes / maps <= 8);
  } finally {
    device.createBuffer = realCreate;
    GPUBuffer.prototype.mapAsync = realMap;
    lm.dispose();
  }
});

test('modality rows: negative ids take projected rows, equal to tfjs with the spliced input embeddings', { timeout: 240_000 }, async (t) => {
  if (skip) return skipMissingTool(t, skip);
  const m = tinyQuantized({ arch: 'llama', bits: 4, groupSize: 16, sym: false, tieWordEmbeddings: false });
  const lm = await loadWebGPULM(new MemorySource(m.files), { device: dev, maxSeq: 48, prefillChunk: 5 });
  const ref = LlamaForCausalLM.fromWeights(m.config, new WeightStore(m.reference, 'reference'));
  try {
    const D = m.config.hiddenSize;
    const projected = Float32Array.from({ length: 3 * D }, (_, i) => Math.sin(i * 0.37));
    const ids = [3, 17, -1, -2, -3, 9, 60, 2];
    const got: number[] = [];
    for await (const tok of lm.generate(Int32Array.from(ids), { maxNewTokens: 8, stopTokenIds: [], projected })) got.push(tok);
    const table = rawToFloat32(m.reference.get('model.embed_tokens.weight')!);
    const embeds = new Float32Array(ids.length * D);
    ids.forEach((id, p) => embeds.set(id >= 0 ? table.subarray(id * D, (id + 1) * D) : projected.subarray((-id - 1) * D, -id * D), p * D));
    const inputsEmbeds = tf.tensor3d(embeds, [1, ids.length, D]);
    const [want] = await generate(ref, { inputsEmbeds, attentionMask: [ids.map(() => 1)] }, { maxNewTokens: 8, stopTokenIds: [] });
    inputsEmbeds.dispose();
    assert.deepEqual(got, want);
    t.diagnostic(`with 3 projected rows: ${got.join(' ')}`);
    await assert.rejects(async () => {
      for await (const _ of lm.generate(Int32Array.of(1, -4), { maxNewTokens: 1, projected })) break;
    }, /prompt position 1 has id -4, outside the vocabulary \(96\) and the 3 projected rows/);
  } finally {
    ref.dispose();
    lm.dispose();
  }
});
