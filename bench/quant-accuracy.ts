/**
 * What int8/int4 (and f16) cost in accuracy, on a trained model: the bundled demo model (models/demo) asked about
 * freshly drawn pictures (held-out: a seed its recipe never used). For each way of holding the LM's weights:
 * mean cross-entropy on the reference answers and its perplexity (teacher-forced), the delta against f32, the
 * share of greedy answers identical to f32's, and task accuracy (exact answer match). Prints ONE JSON line.
 *
 *   npx tsx bench/quant-accuracy.ts [--model models/demo] [--n 200] [--seed 2033]
 *
 * Variants: f32, f16 (at load), int8 and int4 from `multi-token quantize` (asymmetric, group 32: the defaults),
 * int4 symmetric, int4 with group 128. Runs on the Node engine (wasm + onnxruntime).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { tf } from '../src/tf.js';
import '../node/index.js';
import { initRuntime } from '../node/runtime.js';
import { openSource } from '../node/folder-source.js';
import { quantizeFolder } from '../node/quantize/quantize-folder.js';
import { synthShapes } from '../node/dataset/synth-shapes.js';
import { readDataset } from '../node/dataset/read-dataset.js';
import { localLoader } from '../node/media-local.js';
import { loadLMM } from '../src/lmm/load.js';
import type { LMM } from '../src/lmm/lmm.js';
import { generateBatch } from '../src/lmm/generate.js';
import { collate } from '../src/data/collate.js';
import { encoderFeatures } from '../src/train/feature-cache.js';
import type { ChatRow } from '../src/chat/encode-chat.js';
import type { WeightDType } from '../src/nn/frozen-weight.js';

const argv = process.argv.slice(2);
const opt = (name: string, def: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < argv.length ? argv[i + 1]! : def;
};
const model = path.resolve(opt('model', 'models/demo'));
const N = Number(opt('n', '200'));
const SEED = Number(opt('seed', '2033'));
const log = (s: string) => process.stderr.write(`[quant-accuracy] ${s}\n`);
const r4 = (x: number) => Number(x.toPrecision(4));

const backend = await initRuntime({ quiet: true });
const dir = await mkdtemp(path.join(os.tmpdir(), 'quant-acc-'));
try {
  const variants: { name: string; where: string; dtype?: WeightDType }[] = [{ name: 'f32', where: model }, { name: 'f16', where: model, dtype: 'f16' }];
  for (const [name, bits, sym, group] of [['int8', 8, false, 32], ['int4', 4, false, 32], ['int4-sym', 4, true, 32], ['int4-g128', 4, false, 128]] as const) {
    const out = path.join(dir, name);
    await quantizeFolder({ model, out, bits, sym, groupSize: group, progress: false });
    variants.push({ name, where: out });
  }
  const data = path.join(dir, 'shapes');
  await synthShapes({ out: data, n: 1, nTest: N, seed: SEED, imageSize: 64, mix: { colour: 1, shape: 1 } });
  const ds = await readDataset(path.join(data, 'test.jsonl'));
  const rows = ds.rows as unknown as ChatRow[];
  const loadBytes = localLoader({ baseDir: ds.baseDir });
  const answer = (r: ChatRow) => String(r.messages[r.messages.length - 1]!.content).trim();

  /** Mean CE over answer tokens (teacher-forced), greedy answers. */
  async function measure(lmm: LMM) {
    const features = encoderFeatures(lmm, { loadBytes });
    let ce = 0;
    let tokens = 0;
    for (let i = 0; i < rows.length; i += 25) {
      const enc = rows.slice(i, i + 25).map((r, j) => lmm.encodeRow(r, {}, i + j));
      const { batch } = collate(enc, { maxLength: 512, padTokenId: lmm.tokenizer.padTokenId, tokenWidths: lmm.tokenWidths });
      const f = (await features(batch!)) as (tf.Tensor | null)[];
      const { loss, count } = lmm.forward(batch!, f, false);
      ce += (await loss.data())[0]! * count;
      tokens += count;
      loss.dispose();
      for (const t of f) t?.dispose();
    }
    const prompts = rows.map((r) => ({ ...r, messages: r.messages.slice(0, -1) }));
    const answers: { ids: number[]; text: string }[] = [];
    for (let i = 0; i < prompts.length; i += 25) {
      const g = await generateBatch(lmm, prompts.slice(i, i + 25), { maxNewTokens: 8, preprocess: { loadBytes } });
      answers.push(...g.map((x) => ({ ids: x.outputIds, text: x.text.trim() })));
    }
    return { ce: ce / tokens, tokens, answers };
  }

  const results: Record<string, unknown>[] = [];
  let ref: Awaited<ReturnType<typeof measure>> | null = null;
  for (const v of variants) {
    log(`${v.name}`);
    const lmm = await loadLMM(v.where, { open: openSource, dtype: v.dtype });
    const bytes = lmm.lm.weightBytes();
    const m = await measure(lmm);
    lmm.dispose();
    ref ??= m;
    const same = m.answers.filter((a, i) => a.ids.join() === ref!.answers[i]!.ids.join()).length / m.answers.length;
    const correct = m.answers.filter((a, i) => a.text.toLowerCase() === answer(rows[i]!).toLowerCase()).length / m.answers.length;
    results.push({
      variant: v.name,
      lm_weight_bytes: bytes.frozen + bytes.tfjs,
      answer_ce: r4(m.ce),
      perplexity: r4(Math.exp(m.ce)),
      ce_delta_vs_f32: r4(m.ce - ref.ce),
      perplexity_ratio_vs_f32: r4(Math.exp(m.ce - ref.ce)),
      greedy_identical_to_f32: r4(same),
      accuracy: r4(correct),
    });
  }
  console.log(JSON.stringify({
    bench: 'quant-accuracy', model, backend: `${backend} + onnxruntime`, heldout: { rows: rows.length, seed: SEED, kinds: 'colour, shape', answer_tokens: ref!.tokens },
    results, date: new Date().toISOString(), machine: { cpus: os.availableParallelism(), load: os.loadavg().map((x) => r4(x)) },
  }));
} finally {
  await rm(dir, { recursive: true, force: true });
  tf.disposeVariables();
}
