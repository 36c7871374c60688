/**
 * What int8/int4 (and f16) cost on held-out *text*: a small LM (Qwen2 layout, hidden 256, 4 layers) trained from
 * scratch here on the repository's own Markdown (every 10th paragraph held out), saved, quantized with
 * `multi-token quantize`, and scored on the held-out paragraphs: mean cross-entropy per token and perplexity (the
 * delta against f32), and top-1 agreement with f32 at every position (teacher-forced). Deterministic from the
 * commit (the corpus is `git ls-files '*.md'`), so the trained model is the same on every run. Prints ONE JSON line.
 *
 *   npx tsx bench/quant-accuracy-text.ts [--steps 300]
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { tf } from '../src/tf.js';
import '../node/index.js';
import { initRuntime } from '../node/runtime.js';
import { openSource } from '../node/folder-source.js';
import { quantizeFolder } from '../node/quantize/quantize-folder.js';
import { loadLMM } from '../src/lmm/load.js';
import type { LMM } from '../src/lmm/lmm.js';
import { lmmCheckpointFiles } from '../src/lmm/save.js';
import { writeDirAtomic } from '../node/atomic-write.js';
import { makeTinyLMFiles } from '../src/tiny/tiny-lmm.js';
import { collate } from '../src/data/collate.js';
import { Trainer } from '../src/train/trainer.js';
import type { EncodedChat } from '../src/chat/encode-chat.js';
import type { WeightDType } from '../src/nn/frozen-weight.js';

const argv = process.argv.slice(2);
const opt = (name: string, def: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < argv.length ? argv[i + 1]! : def;
};
const STEPS = Number(opt('steps', '300'));
const log = (s: string) => process.stderr.write(`[quant-accuracy-text] ${s}\n`);
const r4 = (x: number) => Number(x.toPrecision(4));
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

// (An error escaping to the top level would make the wasm module's handler print its whole source.)
process.on('uncaughtException', (e) => {
  process.stderr.write(`[quant-accuracy-text] ${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
const backend = await initRuntime({ quiet: true });
const files = execFileSync('git', ['ls-files', '*.md'], { cwd: repo, encoding: 'utf8' }).split('\n').filter(Boolean).sort();
const paragraphs: string[] = [];
for (const f of files) {
  for (const p of (await readFile(path.join(repo, f), 'utf8')).split(/\n\s*\n/)) {
    const t = p.trim();
    if (t.length >= 40) paragraphs.push(t.slice(0, 600));
  }
}
const train = paragraphs.filter((_, i) => i % 10 !== 0);
const heldOut = paragraphs.filter((_, i) => i % 10 === 0);
const dir = await mkdtemp(path.join(os.tmpdir(), 'quant-acc-text-'));
try {
  const lmFiles = await makeTinyLMFiles({
    arch: 'qwen2', hiddenSize: 256, intermediateSize: 688, numHiddenLayers: 4, numAttentionHeads: 8, numKeyValueHeads: 2,
    vocabSize: 2048, tokenizerCorpus: train, seed: 1, std: 0.05,
  });
  const base = path.join(dir, 'base');
  await import('node:fs/promises').then((fs) => fs.mkdir(base));
  for (const [k, v] of lmFiles) await writeFile(path.join(base, k), v);
  const row = (text: string, i: number) => ({ id: `p${i}`, messages: [{ role: 'user', content: 'Write a paragraph.' }, { role: 'assistant', content: text }] });

  // Train (full finetune, f32) on the train paragraphs.
  const lmm = await loadLMM(base, { open: openSource, trainableLM: true });
  const rows = train.map((t, i) => lmm.encodeRow(row(t, i), {}, i));
  const trainer = new Trainer(lmm, rows, new Map(lmm.lm.parameters()), {
    numTrainEpochs: 1, maxSteps: STEPS, batchSize: 8, gradientAccumulationSteps: 1, learningRate: 3e-3, weightDecay: 0.01,
    warmupRatio: 0.05, scheduler: 'cosine', maxGradNorm: 1, seed: 3, modelMaxLength: 256, loggingSteps: 50, saveSteps: 0,
  });
  const t0 = performance.now();
  for (let s = 0; s < STEPS; s++) {
    const r = await trainer.step();
    if (s % 50 === 0 || s === STEPS - 1) log(`step ${s + 1}/${STEPS} loss ${r.loss.toFixed(3)} (${((performance.now() - t0) / 1000 / (s + 1)).toFixed(2)} s/step)`);
  }
  const trained = path.join(dir, 'trained');
  const ckpt = await lmmCheckpointFiles(lmm, { includeLM: true });
  for (const [k, v] of lmFiles) if (!ckpt.has(k) && k !== 'model.safetensors') ckpt.set(k, v);
  await writeDirAtomic(trained, ckpt);
  trainer.dispose();
  lmm.dispose();

  const variants: { name: string; where: string; dtype?: WeightDType }[] = [{ name: 'f32', where: trained }, { name: 'f16', where: trained, dtype: 'f16' }];
  for (const [name, bits, sym, group] of [['int8', 8, false, 32], ['int4', 4, false, 32], ['int4-sym', 4, true, 32], ['int4-g128', 4, false, 128]] as const) {
    const out = path.join(dir, name);
    await quantizeFolder({ model: trained, out, bits, sym, groupSize: group, progress: false });
    variants.push({ name, where: out });
  }

  /** Mean CE per held-out token and the top-1 prediction at every scored position. */
  async function score(m: LMM) {
    const enc: EncodedChat[] = heldOut.map((t, i) => m.encodeRow(row(t, i), {}, i));
    let ce = 0;
    let n = 0;
    const top1: number[] = [];
    for (let i = 0; i < enc.length; i += 8) {
      const { batch } = collate(enc.slice(i, i + 8), { maxLength: 256, padTokenId: m.tokenizer.padTokenId, tokenWidths: m.tokenWidths });
      const { loss, logits, count } = m.forward(batch!, [], false);
      ce += (await loss.data())[0]! * count;
      n += count;
      const pred = tf.tidy(() => logits.argMax(-1));
      const p = (await pred.data()) as Int32Array;
      const T = logits.shape[1]!;
      batch!.labels.forEach((labels, b) => labels.forEach((lab, t) => {
        if (t > 0 && lab !== -100) top1.push(p[b * T + t - 1]!);
      }));
      tf.dispose([loss, logits, pred]);
    }
    return { ce: ce / n, tokens: n, top1 };
  }

  const results: Record<string, unknown>[] = [];
  let ref: Awaited<ReturnType<typeof score>> | null = null;
  for (const v of variants) {
    const m = await loadLMM(v.where, { open: openSource, dtype: v.dtype });
    const bytes = m.lm.weightBytes();
    const s = await score(m);
    m.dispose();
    ref ??= s;
    results.push({
      variant: v.name,
      weight_bytes: bytes.frozen + bytes.tfjs,
      ce_per_token: r4(s.ce),
      perplexity: r4(Math.exp(s.ce)),
      ce_delta_vs_f32: r4(s.ce - ref.ce),
      perplexity_ratio_vs_f32: r4(Math.exp(s.ce - ref.ce)),
      top1_agreement_with_f32: r4(s.top1.filter((x, i) => x === ref!.top1[i]).length / s.top1.length),
    });
    log(`${v.name}: perplexity ${Math.exp(s.ce).toFixed(3)}`);
  }
  console.log(JSON.stringify({
    bench: 'quant-accuracy-text', backend: `${backend} + onnxruntime`,
    model: { arch: 'qwen2', hidden: 256, layers: 4, intermediate: 688, vocab: 2048, trained_steps: STEPS, train_paragraphs: train.length },
    heldout: { paragraphs: heldOut.length, tokens: ref!.tokens, corpus: "every 10th paragraph of `git ls-files '*.md'`" },
    results, date: new Date().toISOString(), machine: { cpus: os.availableParallelism(), load: os.loadavg().map((x) => r4(x)) },
  }));
} finally {
  await rm(dir, { recursive: true, force: true });
}
