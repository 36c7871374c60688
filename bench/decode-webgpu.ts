/**
 * Decode benchmark of the WebGPU engine (src/webgpu/), in Node (Dawn, npm `webgpu`) and in headless Chromium:
 * prints one JSON line per decode step — dispatches, bytes read back, buffers created, milliseconds — then a
 * summary line per runtime with steady-state tokens/s and the GPU memory the model holds. Without a GPU both
 * run on SwiftShader (a CPU implementation of Vulkan): the counts are what they would be on a GPU, the speed is
 * not.
 *
 *   npx tsx bench/decode-webgpu.ts                               # a generated q4 model (hidden 256, 4 layers)
 *   npx tsx bench/decode-webgpu.ts --model /work/bigmodels/qwen2-0.5b-int4 --steps 8 --prompt 16
 *   npx tsx bench/decode-webgpu.ts --runtime chromium            # node | chromium | node,chromium (default)
 *
 * Options: --model DIR, --steps N (default 32), --prompt N (prompt tokens, default 16), --max_seq N (KV cache,
 * default 512), --temperature T, --top_p P (sampling on the device; default greedy), --hidden/--layers/--vocab
 * for the generated model, --reference node-int4: also decode greedily with the Node engine (onnxruntime
 * MatMulNBits on the same folder, issue #14) and say whether each runtime produced the same tokens (in Node, also how
 * close the engine's last-step logits are to the reference's); --compare tfjs:
 * in Node, also decode with the library's tfjs path on tfjs-webgpu (packed frozen weights), interleaved with the
 * engine token by token, and print the ratio.
 */
import { mkdtemp, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { build } from 'vite';
import { initNodeWebGPU } from '../node/webgpu-node.js';
import { FolderSource } from '../node/folder-source.js';
import { FileWeightBytes } from '../node/weight-file-bytes.js';
import { tf } from '../src/tf.js';
import { readJSON } from '../src/io/source.js';
import { loadLMM } from '../src/lmm/load.js';
import { generate } from '../src/lm/generate.js';
import { selectNodeBackend } from '../node/backend.js';
import { readSafetensorsIndex } from '../src/webgpu/safetensors-index.js';
import { makeTinyLMFiles } from '../src/tiny/tiny-lmm.js';
import { loadWebGPULM } from '../src/webgpu/load-lm.js';
import { requestLMDevice } from '../src/webgpu/gpu-context.js';
import { readResultPage, serveStatic } from '../e2e/chromium.js';
import { quantizeFiles } from '../test/helpers/quantize-in-memory.js';
import { benchDecode, type DecodeBenchResult } from './decode-webgpu-core.js';
import { compareWithTfjs } from './decode-webgpu-compare.js';

const repo = fileURLToPath(new URL('..', import.meta.url));
const { values: a } = parseArgs({
  options: {
    model: { type: 'string' },
    steps: { type: 'string', default: '32' },
    prompt: { type: 'string', default: '16' },
    max_seq: { type: 'string', default: '512' },
    temperature: { type: 'string', default: '0' },
    top_p: { type: 'string', default: '1' },
    runtime: { type: 'string', default: 'node,chromium' },
    hidden: { type: 'string', default: '256' },
    layers: { type: 'string', default: '4' },
    vocab: { type: 'string', default: '512' },
    reference: { type: 'string' },
    compare: { type: 'string' },
  },
});
const steps = Number(a.steps);
const promptLen = Number(a.prompt);
const maxSeq = Number(a.max_seq);
const sampling = { temperature: Number(a.temperature), topP: Number(a.top_p), seed: 1 };

/** Deterministic prompt ids below `vocab` (skipping the first few, which tiny tokenizers use for specials). */
function promptIds(vocab: number): Int32Array {
  return Int32Array.from({ length: promptLen }, (_, i) => 3 + ((i * 7919 + 13) % Math.max(1, Math.min(vocab, 500) - 3)));
}

/** The model folder: `--model`, or a generated q4 one in a temp folder. */
async function modelDir(tmp: string): Promise<string> {
  if (a.model) return resolve(a.model);
  await tf.setBackend('cpu');
  const files = await makeTinyLMFiles({ arch: 'llama', hiddenSize: Number(a.hidden), intermediateSize: 4 * Number(a.hidden), numHiddenLayers: Number(a.layers), numAttentionHeads: 8, numKeyValueHeads: 2, vocabSize: Number(a.vocab), seed: 1 });
  const { quantized } = quantizeFiles(files, { bits: 4, groupSize: 32, sym: false });
  const dir = join(tmp, 'model');
  await mkdir(dir, { recursive: true });
  for (const [name, data] of quantized) await writeFile(join(dir, name), data);
  return dir;
}

interface Reference {
  tokens: number[];
  backend: string;
  ms: number;
  /** Logits that chose the last token (a forward over the prompt and every generated token but the last). */
  lastLogits: Float32Array;
}

/**
 * Greedy tokens of the Node engine (onnxruntime; int4 weights through MatMulNBits) for the same prompt, and the
 * logits of its last step: a random model often repeats one token, so equal tokens alone say little.
 */
async function nodeReference(dir: string, ids: Int32Array): Promise<Reference> {
  const sel = await selectNodeBackend({ force: 'onnxruntime' });
  const lmm = await loadLMM(new FolderSource(dir));
  const t0 = performance.now();
  const [tokens] = await generate(lmm.lm, { inputIds: [Array.from(ids)] }, { maxNewTokens: steps, stopTokenIds: [] });
  const ms = performance.now() - t0;
  const input = tf.tensor2d([[...ids, ...tokens.slice(0, -1)]], undefined, 'int32');
  const { logits, hidden } = lmm.lm.forward({ inputIds: input, logits: 'last' });
  const lastLogits = (await logits!.data()) as Float32Array;
  tf.dispose([input, logits!, hidden]);
  lmm.dispose();
  return { tokens, backend: `${sel.name}${sel.engine ? ` + ${sel.engine}` : ''}`, ms, lastLogits };
}

/** How far the engine's last logits are from the reference's: max |diff| against the largest |logit|, and the top 10. */
function logitsAgreement(got: Float32Array, want: Float32Array) {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < want.length; i++) {
    diff = Math.max(diff, Math.abs(got[i] - want[i]));
    scale = Math.max(scale, Math.abs(want[i]));
  }
  const top = (x: Float32Array) => Array.from(x.keys()).sort((a, b) => x[b] - x[a] || a - b).slice(0, 10);
  const [tg, tw] = [top(got), top(want)];
  return { max_abs_diff: +diff.toPrecision(3), max_abs_logit: +scale.toPrecision(4), relative: +(diff / scale).toPrecision(3), top10_same: tg.join() === tw.join(), top10: tw, top10_gap: +(want[tw[0]] - want[tw[1]]).toPrecision(3) };
}

let reference: Reference | null = null;
/** The engine's logits agreement with the reference (Node runtime only: the page does not read logits). */
let logitsCheck: ReturnType<typeof logitsAgreement> | null = null;
/** Bytes of every tensor in the checkpoint's safetensors (what "packed weight bytes" means in the goal). */
let fileWeightBytes = 0;

function print(runtime: string, device: string, r: DecodeBenchResult, model: Record<string, unknown>): void {
  for (const s of r.steps) {
    console.log(JSON.stringify({ bench: 'decode-webgpu', runtime, step: s.step, ms: +s.ms.toFixed(2), tokens_per_s: +(1000 / s.ms).toFixed(2), dispatches: s.dispatches, readbacks: s.readbacks, readback_bytes: s.readbackBytes, buffers_created: s.buffersCreated, token: s.token }));
  }
  console.log(JSON.stringify({
    bench: 'decode-webgpu', runtime, device, summary: true, model, prompt_tokens: r.promptTokens, steps: r.steps.length, sampling,
    prefill_and_first_token_ms: +r.steps[0].ms.toFixed(1),
    steady: { ...r.steady, tokensPerSecond: +r.steady.tokensPerSecond.toFixed(3), msPerToken: +r.steady.msPerToken.toFixed(1) },
    gpu_memory: r.memory,
    weights_in_files: fileWeightBytes,
    gpu_memory_over_file_weights_plus_kv: +(r.memory.total / (fileWeightBytes + r.memory.kv)).toFixed(3),
    ...(reference ? { reference: { runtime: `node ${reference.backend}`, tokens: reference.tokens, same_tokens: r.steps.map((s) => s.token).join() === reference.tokens.join(), ...(logitsCheck ? { last_step_logits: logitsCheck } : {}) } } : {}),
    machine: { cpus: cpus().length, cpu: cpus()[0]?.model, load: loadavg().map((x) => +x.toFixed(2)) },
    date: new Date().toISOString(),
  }));
}

async function runNode(dir: string, model: Record<string, unknown>): Promise<void> {
  const status = await initNodeWebGPU();
  if (!status.ok) throw new Error(`no WebGPU in Node: ${status.reason}`);
  const dev = await requestLMDevice();
  const t0 = performance.now();
  const lm = await loadWebGPULM(new FolderSource(dir), { device: dev, maxSeq, bytes: new FileWeightBytes(dir) });
  const loadMs = performance.now() - t0;
  const r = await benchDecode(lm, promptIds(lm.plan.config.vocabSize), steps, sampling);
  logitsCheck = reference && !(sampling.temperature > 0) ? logitsAgreement(await lm.debugLogits(), reference.lastLogits) : null;
  print('node-dawn', dev.adapterInfo, r, { ...model, load_ms: Math.round(loadMs) });
  if (a.compare === 'tfjs') {
    const c = await compareWithTfjs(lm, new FolderSource(dir), promptIds(lm.plan.config.vocabSize), steps);
    console.log(JSON.stringify({ bench: 'decode-webgpu', runtime: 'node-dawn', compare: 'engine vs tfjs-webgpu (packed frozen weights), interleaved', ...c, machine: { load: loadavg().map((x) => +x.toFixed(2)) } }));
  } else if (a.compare) throw new Error(`--compare: unknown "${a.compare}" (tfjs)`);
  lm.dispose();
}

function pageSource(fromDir: string): string {
  const at = (p: string) => JSON.stringify(relative(fromDir, join(repo, p)).replace(/\\/g, '/'));
  return `
import { UrlSource } from ${at('src/io/source.ts')};
import { loadWebGPULM } from ${at('src/webgpu/load-lm.ts')};
import { requestLMDevice } from ${at('src/webgpu/gpu-context.ts')};
import { benchDecode } from ${at('bench/decode-webgpu-core.ts')};
const q = new URLSearchParams(location.search);
const out = document.getElementById('result');
const r = {};
try {
  const dev = await requestLMDevice();
  r.device = dev.adapterInfo;
  const t0 = performance.now();
  const lm = await loadWebGPULM(new UrlSource(new URL('model/', location.href).href), { device: dev, maxSeq: Number(q.get('maxSeq')) });
  r.loadMs = performance.now() - t0;
  const V = lm.plan.config.vocabSize;
  const n = Number(q.get('prompt'));
  const ids = Int32Array.from({ length: n }, (_, i) => 3 + ((i * 7919 + 13) % Math.max(1, Math.min(V, 500) - 3)));
  r.result = await benchDecode(lm, ids, Number(q.get('steps')), JSON.parse(q.get('sampling')));
  lm.dispose();
} catch (e) { r.error = String(e && e.stack || e); }
out.textContent = JSON.stringify(r);
out.dataset.done = '1';
`;
}

async function runChromium(dir: string, tmp: string, model: Record<string, unknown>): Promise<void> {
  const src = join(tmp, 'page-src');
  const site = join(tmp, 'site');
  await mkdir(src, { recursive: true });
  await writeFile(join(src, 'index.html'), '<!doctype html><meta charset="utf-8"><title>decode-webgpu</title><pre id="result"></pre><script type="module" src="./main.js"></script>');
  await writeFile(join(src, 'main.js'), pageSource(src));
  await build({ configFile: false, root: src, logLevel: 'error', build: { outDir: site, emptyOutDir: true, minify: false, target: 'es2022', reportCompressedSize: false } });
  await symlink(dir, join(site, 'model'));
  const server = await serveStatic(site);
  try {
    const query = new URLSearchParams({ steps: String(steps), prompt: String(promptLen), maxSeq: String(maxSeq), sampling: JSON.stringify(sampling) });
    const r = await readResultPage<{ error?: string; device?: string; loadMs?: number; result?: DecodeBenchResult }>(`${server.url}?${query}`, { webgpu: true, timeoutMs: 3_600_000 });
    if (r.error || !r.result) throw new Error(`the page failed: ${r.error}`);
    print('chromium', r.device ?? '?', r.result, { ...model, load_ms: Math.round(r.loadMs ?? NaN) });
  } finally {
    await server.close();
  }
}

const tmp = await mkdtemp(join(tmpdir(), 'mt-decode-webgpu-'));
try {
  const dir = await modelDir(tmp);
  const cfg = await readJSON<Record<string, unknown>>(new FolderSource(dir), 'config.json');
  for (const e of (await readSafetensorsIndex(new FolderSource(dir), new FileWeightBytes(dir))).values()) fileWeightBytes += e.end - e.start;
  if (a.reference === 'node-int4') {
    reference = await nodeReference(dir, promptIds(Number(cfg.vocab_size)));
    console.log(JSON.stringify({ bench: 'decode-webgpu', runtime: `node ${reference.backend} (reference)`, tokens: reference.tokens, ms_per_token: +(reference.ms / steps).toFixed(1) }));
  } else if (a.reference) throw new Error(`--reference: unknown "${a.reference}" (node-int4)`);
  const model = {
    folder: a.model ?? `generated q4 Llama (hidden ${a.hidden}, ${a.layers} layers, vocab ${a.vocab})`,
    hidden: cfg.hidden_size, layers: cfg.num_hidden_layers, heads: cfg.num_attention_heads, kv_heads: cfg.num_key_value_heads,
    intermediate: cfg.intermediate_size, vocab: cfg.vocab_size, quantization: cfg.quantization_config ?? null, max_seq: maxSeq,
  };
  for (const runtime of String(a.runtime).split(',')) {
    if (runtime === 'node') await runNode(dir, model);
    else if (runtime === 'chromium') await runChromium(dir, tmp, model);
    else throw new Error(`--runtime: unknown "${runtime}" (node, chromium)`);
  }
} finally {
  await rm(tmp, { recursive: true, force: true });
}
