/**
 * Quantized and half weights end to end on the Node engine, on a trained model (the bundled demo model, asked
 * about freshly drawn pictures, its task): `multi-token quantize` → `loadLMM` → greedy answers. int8 and f16 must
 * give the f32 model's greedy tokens exactly; int4 is close: at least 90% of its answers identical to f32's, and
 * at least 90% top-1 agreement along f32's own continuations of text prompts (teacher-forced, so one flip does not
 * cascade). Quantizing at load gives the same logits as loading a quantized folder. And a model that cannot fit is
 * refused before loading, with the numbers.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { tf } from '../src/tf.js';
import '../node/index.js';
import { selectNodeBackend } from '../node/backend.js';
import { quantizeFolder } from '../node/quantize/quantize-folder.js';
import { openSource } from '../node/folder-source.js';
import { loadLMM } from '../src/lmm/load.js';
import { generateBatch } from '../src/lmm/generate.js';
import type { ChatRow } from '../src/chat/encode-chat.js';
import { synthShapes } from '../node/dataset/synth-shapes.js';
import { readDataset } from '../node/dataset/read-dataset.js';
import { localLoader } from '../node/media-local.js';
import type { LMM } from '../src/lmm/lmm.js';
import type { WeightDType } from '../src/nn/frozen-weight.js';
import { tmpDir } from './helpers/tiny-vector.js';

await selectNodeBackend({ force: 'wasm+onnxruntime', quiet: true });
const demo = fileURLToPath(new URL('../models/demo', import.meta.url));
const root = await tmpDir('mt-qload-');
after(() => rm(root, { recursive: true, force: true }));
const q8 = path.join(root, 'q8');
const q4 = path.join(root, 'q4');
await quantizeFolder({ model: demo, out: q8, bits: 8, progress: false });
await quantizeFolder({ model: demo, out: q4, bits: 4, progress: false });

const PROMPTS = ['What colour is the circle?', 'Is there a red square in the picture?', 'How many shapes are there?'];
const N = 24;

// Held-out pictures (a seed the demo recipe never used) and their questions, without the reference answers.
const shapes = path.join(root, 'shapes');
await synthShapes({ out: shapes, n: 1, nTest: 24, seed: 2031, imageSize: 64, mix: { colour: 1, shape: 1 } });
const ds = await readDataset(path.join(shapes, 'test.jsonl'));
const questions = (ds.rows as unknown as ChatRow[]).map((r) => ({ ...r, messages: r.messages.slice(0, -1) }));
const loadBytes = localLoader({ baseDir: ds.baseDir });

/** Greedy answers (token ids) to the held-out picture questions. */
async function answers(lmm: LMM): Promise<number[][]> {
  const out: number[][] = [];
  for (let i = 0; i < questions.length; i += 12) {
    const g = await generateBatch(lmm, questions.slice(i, i + 12), { maxNewTokens: 8, preprocess: { loadBytes } });
    out.push(...g.map((x) => x.outputIds));
  }
  return out;
}

async function load(where: string, dtype?: WeightDType): Promise<LMM> {
  return loadLMM(where, { open: openSource, dtype });
}

/** Greedy continuation of each prompt with the KV cache. */
async function greedy(lmm: LMM): Promise<number[][]> {
  const out: number[][] = [];
  for (const p of PROMPTS) {
    const cache = lmm.lm.newCache(1);
    let ids = lmm.tokenizer.encode(p);
    const gen: number[] = [];
    for (let i = 0; i < N; i++) {
      const logits = tf.tidy(() => lmm.lm.forward({ inputIds: tf.tensor2d([ids], undefined, 'int32'), cache, logits: 'last' }).logits!.reshape([-1]).argMax());
      const next = (await logits.data())[0]!;
      logits.dispose();
      gen.push(next);
      ids = [next];
    }
    cache.dispose();
    out.push(gen);
  }
  return out;
}

/** Top-1 predictions of `lmm` along each prompt + reference continuation (teacher forcing), and its logits. */
async function teacherForced(lmm: LMM, continuations: number[][]): Promise<{ top1: number[][]; logits: Float32Array[] }> {
  const top1: number[][] = [];
  const logits: Float32Array[] = [];
  PROMPTS.forEach((p, i) => {
    const prompt = lmm.tokenizer.encode(p);
    const ids = [...prompt, ...continuations[i]!.slice(0, -1)];
    const l = tf.tidy(() => lmm.lm.forward({ inputIds: tf.tensor2d([ids], undefined, 'int32') }).logits!.slice([0, prompt.length - 1, 0], [1, N, -1]));
    top1.push(Array.from(tf.tidy(() => l.argMax(-1)).dataSync()));
    logits.push(l.dataSync() as Float32Array);
    l.dispose();
  });
  return { top1, logits };
}

const f32 = await load(demo);
const reference = await greedy(f32);
const refForced = await teacherForced(f32, reference);
const refAnswers = await answers(f32);
f32.dispose();

test('int8 (quantized folder) and f16 (at load) answer the held-out pictures with f32\'s greedy tokens exactly', async () => {
  for (const [where, dtype] of [[q8, undefined], [demo, 'f16']] as const) {
    const m = await load(where, dtype);
    const lm = m.lm.linears().get('model.layers.0.mlp.up_proj')!;
    assert.equal(lm.frozen?.dtype, dtype ?? 'int8');
    assert.deepEqual(await answers(m), refAnswers, `${dtype ?? 'int8'}: greedy tokens`);
    m.dispose();
  }
});

test('int4 is close: ≥ 90% identical answers, ≥ 90% top-1 agreement along f32 continuations', async (t) => {
  const m = await load(q4);
  const got = await answers(m);
  const same = got.filter((a, i) => a.join() === refAnswers[i]!.join()).length / got.length;
  const { top1 } = await teacherForced(m, reference);
  const agree = top1.flat().filter((x, i) => x === refForced.top1.flat()[i]).length / (PROMPTS.length * N);
  t.diagnostic(`int4: ${(same * 100).toFixed(0)}% identical answers, ${(agree * 100).toFixed(1)}% top-1 agreement`);
  assert.ok(same >= 0.9, `int4 identical answers ${same}`);
  assert.ok(agree >= 0.9, `int4 top-1 agreement ${agree}`);
  m.dispose();
});

test('quantizing at load (--dtype int4 on the f32 folder) equals loading the quantized folder', async () => {
  const a = await load(demo, 'int4');
  const b = await load(q4);
  const la = await teacherForced(a, reference);
  const lb = await teacherForced(b, reference);
  la.logits.forEach((x, i) => assert.deepEqual(x, lb.logits[i], `prompt ${i}`));
  a.dispose();
  b.dispose();
});

test('quantize --lm_head on tied embeddings: the head is int4 (its own codes), the lookup table stays f32', async () => {
  const { tinyFiles } = await import('../node/commands/make-tiny.js');
  const { writeDirAtomic } = await import('../node/atomic-write.js');
  const { parseSafetensors } = await import('../src/io/safetensors.js');
  const { dequantizeRows } = await import('../src/quant/nbits.js');
  const { readFile } = await import('node:fs/promises');
  const f = path.join(root, 'tied');
  await writeDirAtomic(f, await tinyFiles({ out: f, arch: 'qwen2', seed: 9, hidden_size: 64, intermediate_size: 128, layers: 2, heads: 4, kv_heads: 2 }));
  const q = path.join(root, 'tied-q4-head');
  await quantizeFolder({ model: f, out: q, bits: 4, lmHead: true, progress: false });
  const st = parseSafetensors(new Uint8Array(await readFile(path.join(q, 'model.safetensors')))).tensors;
  assert.ok(st.has('lm_head.qweight') && st.get('model.embed_tokens.weight')!.dtype === 'F32');
  const m = await load(q);
  assert.equal(m.lm.lmHead?.frozen?.dtype, 'int4');
  assert.equal(m.lm.frozenEmbed?.dtype, 'f32');
  // The logits are the final hidden states times the dequantized head codes (int8 activations inside: ~1%).
  const vocab = m.lm.config.vocabSize;
  const head = dequantizeRows({
    n: vocab, k: 64, bits: 4, groupSize: 32, qweight: st.get('lm_head.qweight')!.data,
    scales: new Uint16Array(st.get('lm_head.scales')!.data.slice().buffer), qzeros: st.get('lm_head.qzeros')!.data,
  });
  const ids = tf.tensor2d([m.tokenizer.encode('the quick brown fox jumps')], undefined, 'int32');
  const { hidden, logits } = m.lm.forward({ inputIds: ids });
  const want = tf.matMul(hidden.reshape([-1, 64]), tf.tensor2d(head, [vocab, 64]), false, true);
  const rel = tf.tidy(() => tf.div(tf.max(tf.abs(tf.sub(logits!.reshape([-1, vocab]), want))), tf.max(tf.abs(want))).dataSync()[0]!);
  assert.ok(rel < 2e-2, `head logits vs hidden · dequantized codes: ${rel}`);
  m.dispose();
});

test('multi-token generate --dtype int8: the first line names the engine, the answer is the f32 one', async () => {
  const cli = fileURLToPath(new URL('../bin/multi-token.js', import.meta.url));
  const image = path.join(ds.baseDir, String((ds.rows[0] as { images: string[] }).images[0]));
  const run = (args: string[]) => new Promise<{ stdout: string; stderr: string }>((resolve, reject) => {
    execFile(process.execPath, [cli, 'generate', '--model', demo, '--images', image, '--prompt', 'What colour is the shape in <image>?', '--json', '--max_new_tokens', '6', ...args],
      { env: { ...process.env, MULTI_TOKEN_BACKEND: '' } }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve({ stdout, stderr })));
  });
  const f32 = await run([]);
  const int8 = await run(['--dtype', 'int8']);
  assert.match(int8.stderr.split('\n')[0]!, /^\[multi-token\] backend: wasm \+ onnxruntime/);
  assert.deepEqual(JSON.parse(int8.stdout).output_ids, JSON.parse(f32.stdout).output_ids);
});

test('a model that does not fit is refused before loading, naming size, limit and the way out', async () => {
  const budget = { bytes: 2.5e6, what: 'the test budget' };
  await assert.rejects(loadLMM(demo, { open: openSource, memoryBudget: budget }), (e: Error) => {
    // 0.89 M parameters: 3.6 MB as f32; f16/int8/int4 Linears (the 327 kB embedding table stays f32) fit 2.5 MB.
    // (The engine holds the table and the Linears; tfjs keeps only the norms.)
    assert.equal(e.message, `the model in ${demo}/model.safetensors needs 3.6 MB as f32 (0.89 M parameters), but the test budget is 2.5 MB; ` +
      'load it with --dtype f16 (≈1.9 MB) or --dtype int8 (≈1.5 MB) or --dtype int4 (≈1.1 MB), or quantize it once with `multi-token quantize --bits 4|8`');
    return true;
  });
  await assert.rejects(loadLMM(demo, { open: openSource, memoryBudget: { bytes: 1e4, what: 'a tiny budget' } }),
    /needs 3\.6 MB as f32 .* but a tiny budget is 10 kB; even int4 \(≈1\.1 MB\) does not fit: use a machine with more memory, or a smaller model$/);
  await assert.rejects(loadLMM(demo, { open: openSource, memoryBudget: { bytes: 1e9, what: 'RAM', tfjsBytes: 1e3, tfjsWhat: 'the wasm heap (4 GiB)' } }),
    /keeps 5 kB in tfjs memory as f32 \(0\.89 M parameters\), past the wasm heap \(4 GiB\) of 1 kB; even as int4 the tfjs part \(norms, biases: 5 kB\) does not fit; use --backend cpu\+onnxruntime/);
});
