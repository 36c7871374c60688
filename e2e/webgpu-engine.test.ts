/**
 * The demo page on the WebGPU engine in headless Chromium (SwiftShader): a tiny q4 checkpoint (QUANT-LAYOUT.md)
 * opened by URL, and a float one opened with `?engine=webgpu&dtype=f16`, each answer a greedy question with
 * exactly the text Node computes three ways — the Node engine of issue #14 on the same folder (onnxruntime:
 * MatMulNBits int4, or f16 weights with `dtype: 'f16'`), tfjs on the dequantized or f16-rounded weights, and
 * this engine on Dawn — and show the GPU memory they hold: the same byte count as the engine in Node, beside
 * tokens/s.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { CHROMIUM_PATH, launchChromium, serveStatic, type StaticServer } from './chromium.js';
import { buildDemoPage, tail, watchConsole } from './helpers/demo-site.js';
import { ask, backendOf, waitForModel, PAGE_TIMEOUT_MS } from './helpers/demo-page.js';
import { missingTool } from '../test/helpers/missing-tool.js';
import { tf } from '../src/tf.js';
import { MemorySource } from '../src/io/source.js';
import { float32ToRaw, parseSafetensors, rawToFloat32, serializeSafetensors } from '../src/io/safetensors.js';
import { f16BytesToFloat32, float32ToHalfBytes } from '../src/io/half-float.js';
import { loadLMM } from '../src/lmm/load.js';
import { generateBatch } from '../src/lmm/generate.js';
import { makeTinyLMFiles } from '../src/tiny/tiny-lmm.js';
import { initNodeWebGPU } from '../node/webgpu-node.js';
import { selectNodeBackend } from '../node/backend.js';
import { loadGpuLMM, streamGenerateGpu } from '../src/webgpu/gpu-lmm.js';
import { quantizeFiles } from '../test/helpers/quantize-in-memory.js';

const skip = missingTool(existsSync(CHROMIUM_PATH) ? false : `${CHROMIUM_PATH} missing: apt-get install -y chromium`);
const QUESTION = 'Hello, who are you?';
const row = { messages: [{ role: 'user' as const, content: QUESTION }] };
const MAX_NEW = 8;

interface Expected {
  text: string;
  gpuBytes: number;
}
const expected = new Map<string, Expected>();
let dir = '';
let server: StaticServer | undefined;

async function writeFiles(folder: string, files: Map<string, Uint8Array | string>): Promise<void> {
  for (const [name, data] of files) {
    await mkdir(dirname(join(folder, name)), { recursive: true });
    await writeFile(join(folder, name), data);
  }
}

/** The answer and GPU bytes Node computes: tfjs on `reference` files, the engine on `served` files. */
async function expect(name: string, served: Map<string, Uint8Array | string>, reference: Map<string, Uint8Array | string>, dtype: 'auto' | 'f16'): Promise<void> {
  const ref = await loadLMM(new MemorySource(Object.fromEntries(reference)));
  const [want] = await generateBatch(ref, [row], { maxNewTokens: MAX_NEW, temperature: 0 });
  ref.dispose();
  const gpu = await loadGpuLMM(new MemorySource(Object.fromEntries(served)), { dtype });
  let text = '';
  for await (const s of streamGenerateGpu(gpu, row, { maxNewTokens: MAX_NEW })) text += s.delta;
  assert.equal(text, want.text, `${name}: the engine in Node answers like tfjs`);
  expected.set(name, { text, gpuBytes: gpu.gpuBytes });
  gpu.dispose();
}

/** The Node engine's (onnxruntime) answer on the served folder: int4 through MatMulNBits, or f16 weights. */
async function nodeEngineAnswer(served: Map<string, Uint8Array | string>, dtype: 'f16' | undefined): Promise<string> {
  const lmm = await loadLMM(new MemorySource(Object.fromEntries(served)), { dtype });
  const [a] = await generateBatch(lmm, [row], { maxNewTokens: MAX_NEW, temperature: 0 });
  lmm.dispose();
  return a.text;
}

before(async () => {
  if (skip) return;
  await tf.setBackend('cpu');
  const status = await initNodeWebGPU();
  if (!status.ok) throw new Error(`no WebGPU in Node: ${status.reason}`);
  dir = await mkdtemp(join(tmpdir(), 'mt-webgpu-engine-'));
  await buildDemoPage(join(dir, 'site'));
  // q4 (asymmetric, group 32) llama.
  const lm = await makeTinyLMFiles({ arch: 'llama', seed: 4, hiddenSize: 64, numHiddenLayers: 2 });
  const { quantized, float } = quantizeFiles(lm, { bits: 4, groupSize: 32, sym: false });
  await writeFiles(join(dir, 'site', 'models', 'q4'), quantized);
  await expect('q4', quantized, float, 'auto');
  // A float (F32) Mistral held as f16 on the GPU: the reference rounds every matrix to f16.
  const fl = await makeTinyLMFiles({ arch: 'mistral', seed: 2, hiddenSize: 64, numHiddenLayers: 2 });
  await writeFiles(join(dir, 'site', 'models', 'f32'), fl);
  const { tensors } = parseSafetensors(fl.get('model.safetensors') as Uint8Array);
  const rounded = new Map([...tensors].map(([k, t]) => {
    if (t.shape.length !== 2) return [k, t];
    const v = rawToFloat32(t);
    return [k, float32ToRaw(f16BytesToFloat32(float32ToHalfBytes(v, 'F16'), v.length), t.shape, 'F32')];
  }));
  await expect('f16', fl, new Map([...fl, ['model.safetensors', serializeSafetensors(rounded, { format: 'pt' })]]), 'f16');
  // The Node engine of issue #14 (wasm + onnxruntime) on the very folders the page opens.
  const sel = await selectNodeBackend({ force: 'onnxruntime' });
  assert.equal(sel.engine, 'onnxruntime');
  assert.equal(await nodeEngineAnswer(quantized, undefined), expected.get('q4')!.text, 'q4: the Node int4 engine answers like the WebGPU engine');
  assert.equal(await nodeEngineAnswer(fl, 'f16'), expected.get('f16')!.text, 'f16: the Node f16 engine answers like the WebGPU engine');
  server = await serveStatic(join(dir, 'site'));
});

after(async () => {
  await server?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('the page runs a q4 checkpoint and an f16-held float one on the WebGPU engine: Node\'s answers, the GPU memory shown', { skip, timeout: 4 * PAGE_TIMEOUT_MS }, async (t) => {
  const browser = await launchChromium({ webgpu: true });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    const cons = watchConsole(page);
    for (const [name, query] of [['q4', 'model=models/q4/'], ['f16', 'model=models/f32/&engine=webgpu&dtype=f16']] as const) {
      await page.goto(`${server!.url}?${query}&maxNewTokens=${MAX_NEW}&temperature=0`);
      assert.equal(await backendOf(page), 'webgpu', tail(cons));
      await waitForModel(page);
      const want = expected.get(name)!;
      const shownBytes = Number(await page.getAttribute('#gpu-memory', 'data-bytes'));
      assert.equal(shownBytes, want.gpuBytes, `${name}: GPU memory shown`);
      assert.match((await page.textContent('#gpu-memory')) ?? '', /^GPU memory: [\d.]+ (KB|MB|GB)$/);
      const a = await ask(page, QUESTION);
      assert.equal(a.text, want.text, `${name}: the page's answer`);
      const stats = (await page.textContent('#stats')) ?? '';
      assert.match(stats, /tok\/s .*· GPU memory [\d.]+ (KB|MB|GB)$/, stats);
      t.diagnostic(`${name}: ${JSON.stringify(a.text)}; ${stats}; log: ${(await page.textContent('#progress-log'))?.match(/GPU memory held:[^)]*\)/)?.[0]}`);
    }
  } finally {
    await browser.close();
  }
});
