/**
 * The on-device sampler (kernels/lm-sample.wgsl) on Dawn + SwiftShader, with logits we choose: greedy ties and
 * vocabularies that do not divide the workgroup, then thousands of draws per setting checked against the
 * distribution the CPU sampler (src/lm/sampling.ts) defines: only the top-k / top-p tokens ever come out, and
 * their frequencies pass a chi-square test (p > 0.001) against the renormalised softmax.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { startNodeWebGPU } from './helpers/node-webgpu.js';
import { skipMissingTool } from './helpers/missing-tool.js';
import { GpuContext, requestLMDevice } from '../src/webgpu/gpu-context.js';
import { SAMPLE_FIELDS, SAMPLE_STAGES, sampleKernel, uniformData } from '../src/webgpu/lm-shaders.js';

let skip: string | false = false;
let ctx: GpuContext;
let pipelines: GPUComputePipeline[];
before(async () => {
  skip = await startNodeWebGPU();
  if (skip) return;
  ctx = new GpuContext((await requestLMDevice()).device);
  pipelines = [];
  for (const stage of SAMPLE_STAGES) {
    const k = sampleKernel(stage);
    pipelines.push(await ctx.pipeline(k.label, k.code, k.entryPoint, k.bindings));
  }
});

interface Settings {
  temperature: number;
  topK?: number;
  topP?: number;
  seed?: number;
}

/** Runs the sampler `draws` times on `logits` (the position advancing each time) and returns the tokens. */
async function sample(logits: Float32Array, s: Settings, draws: number, pos = 0): Promise<Int32Array> {
  const V = logits.length;
  const lb = ctx.storage('logits', 4 * V, 'activations');
  const state = ctx.storage('state', 16, 'activations');
  const scratch = ctx.storage('scratch', 16, 'activations');
  const results = ctx.storage('results', 4 * draws, 'activations');
  const read = ctx.readback('read', 4 * draws);
  const params = ctx.uniform('params', uniformData(SAMPLE_FIELDS, { temperature: s.temperature, topK: s.topK ?? 0, topP: s.topP ?? 1, seed: s.seed ?? 1, advance: 1, V }));
  const q = ctx.device.queue;
  q.writeBuffer(lb, 0, logits);
  q.writeBuffer(state, 0, Int32Array.of(-1, pos, 0, 0));
  const bg = ctx.bindGroup('sample', sampleKernel('sampleMax').bindings, [lb, state, scratch, params]);
  const enc = ctx.device.createCommandEncoder();
  for (let i = 0; i < draws; i++) {
    const pass = enc.beginComputePass();
    for (const pipeline of pipelines) {
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, bg);
      pass.dispatchWorkgroups(1);
    }
    pass.end();
    enc.copyBufferToBuffer(state, 0, results, 4 * i, 4);
  }
  enc.copyBufferToBuffer(results, 0, read, 0, 4 * draws);
  q.submit([enc.finish()]);
  await read.mapAsync(1);
  const out = new Int32Array(read.getMappedRange().slice(0)).subarray(0, draws);
  read.unmap();
  for (const b of [lb, state, scratch, results, read, params]) b.destroy();
  return out;
}

/** The distribution src/lm/sampling.ts samples from: top-k, softmax with temperature, then top-p. */
function expected(logits: Float32Array, s: Settings): Map<number, number> {
  let idx = Array.from(logits.keys()).sort((a, b) => logits[b] - logits[a] || a - b);
  if (s.topK && s.topK < idx.length) idx = idx.slice(0, s.topK);
  const max = logits[idx[0]];
  let p = idx.map((i) => Math.exp((logits[i] - max) / s.temperature));
  let total = p.reduce((a, b) => a + b, 0);
  if ((s.topP ?? 1) < 1) {
    let acc = 0;
    let keep = p.length;
    for (let i = 0; i < p.length; i++) {
      acc += p[i] / total;
      if (acc >= s.topP!) {
        keep = i + 1;
        break;
      }
    }
    idx = idx.slice(0, keep);
    p = p.slice(0, keep);
    total = p.reduce((a, b) => a + b, 0);
  }
  return new Map(idx.map((i, j) => [i, p[j] / total]));
}

/** Chi-square critical value at p = 0.001 (Wilson–Hilferty: within 1% of the tables for any df). */
function chi2Critical(df: number): number {
  const z = 3.0902;
  return df * (1 - 2 / (9 * df) + z * Math.sqrt(2 / (9 * df))) ** 3;
}

function checkDraws(tokens: Int32Array, want: Map<number, number>, what: string): string {
  const counts = new Map<number, number>();
  for (const t of tokens) {
    assert.ok(want.has(t), `${what}: drew token ${t}, which the CPU sampler's cut excludes (allowed: ${[...want.keys()].join(', ')})`);
    counts.set(t, (counts.get(t) ?? 0) + 1);
  }
  let chi2 = 0;
  for (const [tok, p] of want) chi2 += ((counts.get(tok) ?? 0) - tokens.length * p) ** 2 / (tokens.length * p);
  const df = want.size - 1;
  if (df > 0) assert.ok(chi2 < chi2Critical(df), `${what}: chi-square ${chi2.toFixed(1)} ≥ ${chi2Critical(df).toFixed(1)} (df ${df}); counts ${JSON.stringify([...counts])}`);
  return `${what}: ${want.size} allowed, chi² ${chi2.toFixed(1)} (df ${df})`;
}

test('greedy: argmax with the lowest id on ties, any vocabulary size', async (t) => {
  if (skip) return skipMissingTool(t, skip);
  for (const V of [1, 7, 256, 1000, 151936]) {
    const l = Float32Array.from({ length: V }, (_, i) => -5 - Math.sin(i));
    l[V - 1] = 3;
    assert.deepEqual(Array.from(await sample(l, { temperature: 0 }, 2)), [V - 1, V - 1], `V=${V}, max last`);
    if (V > 300) {
      l[300] = 3; // a tie with a lower id
      assert.equal((await sample(l, { temperature: 0 }, 1))[0], 300, `V=${V}, tie`);
    }
  }
});

test('temperature, top-k and top-p draw from the CPU sampler\'s distribution (chi-square), and never outside its cut', { timeout: 120_000 }, async (t) => {
  if (skip) return skipMissingTool(t, skip);
  const V = 1000;
  // A low background (together ~1e-3 of the probability), and six strong tokens at scattered ids.
  const l = Float32Array.from({ length: V }, (_, i) => -12 + 0.002 * i);
  const top = [[513, 2], [7, 1.53], [999, 1.02], [250, 0.61], [640, 0.1], [2, -0.3]];
  for (const [i, v] of top) l[i] = v;
  const settings: (Settings & { what: string })[] = [
    { what: 'top-k 3, T 1', temperature: 1, topK: 3, seed: 11 },
    { what: 'top-p 0.6, T 1', temperature: 1, topP: 0.6, seed: 12 },
    { what: 'top-k 5 + top-p 0.9, T 0.7', temperature: 0.7, topK: 5, topP: 0.9, seed: 13 },
    { what: 'top-k 1, T 2', temperature: 2, topK: 1, seed: 14 },
    { what: 'top-k 6, T 1.5', temperature: 1.5, topK: 6, seed: 15 },
  ];
  for (const s of settings) {
    const draws = await sample(l, s, 1500);
    t.diagnostic(checkDraws(draws, expected(l, s), s.what));
  }
  // A flat distribution whose nucleus is wider than the sampler's exact path (256 candidates): the bisection
  // path, whose cut must still keep exactly the CPU's tokens (no ties here).
  const wide = Float32Array.from({ length: 1000 }, (_, i) => 0.3 * Math.sin(i * 1.3));
  const wideSettings = { temperature: 1, topP: 0.5, seed: 17 };
  const wideWant = expected(wide, wideSettings);
  assert.ok(wideWant.size > 256, `${wideWant.size} allowed`);
  t.diagnostic(checkDraws(await sample(wide, wideSettings, 1500), wideWant, 'top-p 0.5 over a flat 1000 (bisection path)'));
  // Plain temperature over the whole vocabulary: the long tail gets its share.
  const flat = Float32Array.from({ length: 300 }, (_, i) => Math.cos(i) * 0.5);
  const draws = await sample(flat, { temperature: 1, seed: 16 }, 1500);
  const want = expected(flat, { temperature: 1 });
  const seen = new Set(draws).size;
  assert.ok(seen > 250, `only ${seen} of 300 tokens drawn in 1500 draws`);
  const pMax = Math.max(...want.values());
  const top1 = [...want].find(([, p]) => p === pMax)![0];
  const share = draws.filter((d) => d === top1).length / draws.length;
  assert.ok(Math.abs(share - pMax) < 4 * Math.sqrt((pMax * (1 - pMax)) / draws.length), `top token share ${share} vs ${pMax}`);
});

test('draws are reproducible from (seed, position) and differ across seeds', async (t) => {
  if (skip) return skipMissingTool(t, skip);
  const l = Float32Array.from({ length: 50 }, (_, i) => Math.sin(i * 3));
  const a = await sample(l, { temperature: 1, seed: 5 }, 40, 7);
  const b = await sample(l, { temperature: 1, seed: 5 }, 40, 7);
  const c = await sample(l, { temperature: 1, seed: 6 }, 40, 7);
  assert.deepEqual(Array.from(a), Array.from(b));
  assert.notDeepEqual(Array.from(a), Array.from(c));
});
