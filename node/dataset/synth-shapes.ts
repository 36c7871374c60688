/**
 * `multi-token dataset synth-shapes`: writes the synthetic shapes dataset (see `src/data/shapes.ts`) to a
 * folder:
 *
 * ```
 * DIR/info.json                 generator settings (seed, sizes, mix) — rerunning them reproduces DIR byte for byte
 * DIR/train.jsonl, test.jsonl   rows in the seed's schema; image paths relative to DIR ("images/…png")
 * DIR/test_regions.jsonl, test_pairs.jsonl   with a holdout rule: rows from the held-out regions / pairs
 * DIR/meta.jsonl                {id, split, question_type, answer, images: [{file, shapes}]} per row, for evaluation
 * DIR/images/*.png              the pictures (test pictures never repeat a training picture)
 * DIR/train_audio.jsonl, test_audio.jsonl, audio/*.wav   with --audio (`speech_audios`, `<speech>`)
 * ```
 *
 * Rows carry no extra fields (the schema check rejects unknown keys); everything an evaluator needs is in
 * meta.jsonl.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { PNG } from 'pngjs';
import { drillRow, generateShapesExamples, renderScene, shapesRow, validateHoldout, DEFAULT_HOLDOUT, DEFAULT_MIX, type HoldoutClass, type HoldoutRule, type QuestionType, type ShapesExample, type ShapesWording } from '../../src/data/shapes.js';
import { COLOUR_TONES_HZ, encodeWav16, generateAudioExamples, synthBeeps, type AudioExample } from '../../src/data/shapes-audio.js';
import type { PlainRow } from '../../src/data/arrow-rows.js';
import { toJsonl } from './write-dataset.js';

export interface SynthShapesOptions {
  out: string;
  /** Training rows. */
  n: number;
  seed: number;
  /** Canvas size in pixels. Default 64. */
  imageSize?: number;
  /** Held-out rows. Default max(20, round(n / 10)). */
  nTest?: number;
  /** Question-type weights; default `DEFAULT_MIX`. */
  mix?: Partial<Record<QuestionType, number>>;
  /**
   * Question-type weights of the test splits; default `mix`. A training mix tilted towards the hard types would
   * otherwise leave a few dozen test rows of the easy ones, too few to measure them.
   */
  testMix?: Partial<Record<QuestionType, number>>;
  /**
   * Regions of scene space kept out of training (`src/data/shapes-holdout.ts`). With a rule, `train` and `test`
   * hold only in-distribution rows, and `test_regions` / `test_pairs` (`nTest` rows each) the held-out ones.
   */
  holdout?: HoldoutRule;
  /**
   * Exists and compare answers say what the pictures show and repeat the shape asked about before the verdict
   * ("I see a blue circle. A red circle? No.");
   * recorded in info.json as `explain`.
   */
  explain?: boolean;
  /**
   * Answers name each shape's kind before its colour ("A circle in red.", `kindFirstPhrase` in
   * src/data/shapes.ts); questions keep the colour first. Recorded in info.json as `kind_first`.
   */
  kindFirst?: boolean;
  /**
   * Explained exists answers check the shapes one at a time ("A circle in red? I see a square in red: no. No.").
   * Needs `explain`; recorded in info.json as `check_each`.
   */
  checkEach?: boolean;
  /**
   * Text-only rows added to train.jsonl, their pictures given in words (`drillRow` in src/data/shapes.ts).
   * Needs `explain` when the drill mix asks exists or compare questions. Default 0.
   */
  drills?: number;
  /** Question-type weights of the drills; default exists=1, compare=1. Recorded in info.json as `drill_mix`. */
  drillMix?: Partial<Record<QuestionType, number>>;
  /**
   * Which colour×kind pairs a drill's words may name: `train` (default) never names a held-out pair; `all`
   * names every pair, as the text a pretrained LM has read would, while held-out pairs still never occur in a
   * training picture. Recorded in info.json as `drill_pairs` when `all`.
   */
  drillPairs?: 'train' | 'all';
  /** Also write audio rows (tones; spoken shape names when `espeak-ng` is installed). */
  audio?: boolean;
  /** Write absolute media paths (for tools that resolve paths against the working directory, like the seed's). */
  absolutePaths?: boolean;
  log?: (line: string) => void;
}

export interface SynthShapesReport {
  out: string;
  rows: { train: number; test: number; trainAudio: number; testAudio: number; testRegions?: number; testPairs?: number };
  images: number;
  audioFiles: number;
  /** Rows per question type per split. */
  types: Record<string, Record<string, number>>;
  notes: string[];
}

const INFO_FILE = 'info.json';
const DEFAULT_DRILL_MIX: Partial<Record<QuestionType, number>> = { exists: 1, compare: 1 };
const GENERATOR = 'multi-token synth-shapes';

/** A distinct stream for the held-out split (golden-ratio offset), so test pictures are not train pictures. */
function testSeed(seed: number, k = 1): number {
  return (seed + k * 0x9e3779b9) >>> 0;
}

/** The splits to write: without a rule, train and test as before; with one, also the two held-out splits. */
function splitPlan(seed: number, n: number, nTest: number, holdout: HoldoutRule | undefined): { split: string; seed: number; n: number; keep?: HoldoutClass }[] {
  if (!holdout) return [{ split: 'train', seed, n }, { split: 'test', seed: testSeed(seed), n: nTest }];
  return [
    { split: 'train', seed, n, keep: 'train' },
    { split: 'test', seed: testSeed(seed), n: nTest, keep: 'train' },
    { split: 'test_regions', seed: testSeed(seed, 2), n: nTest, keep: 'regions' },
    { split: 'test_pairs', seed: testSeed(seed, 3), n: nTest, keep: 'pairs' },
  ];
}

function pngBytes(ex: ShapesExample, k: number): Buffer {
  const img = renderScene(ex.scenes[k]);
  const png = new PNG({ width: img.width, height: img.height });
  png.data = Buffer.from(img.data.buffer, img.data.byteOffset, img.data.byteLength);
  return PNG.sync.write(png, { colorType: 2 }); // RGB: the pictures are opaque
}

/**
 * The `--holdout` flag: `default` (the demo model's rule), `none`, a JSON file, or inline JSON
 * (`{"positions": {"x": [lo, hi], "y": [lo, hi]}, "radii": [[lo, hi]], "pairs": [{"colour", "kind"}]}`).
 */
export async function holdoutFromSpec(spec: string): Promise<HoldoutRule | undefined> {
  const s = spec.trim();
  if (s === 'none') return undefined;
  if (s === 'default') return DEFAULT_HOLDOUT;
  let json: unknown;
  const text = s.startsWith('{') ? s : await readFile(s, 'utf8').catch((e: Error) => {
    throw new Error(`--holdout: "${s}" is not default, none, inline JSON or a readable file (${e.message})`);
  });
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new Error(`--holdout: ${s.startsWith('{') ? 'inline JSON' : s} is not valid JSON (${(e as Error).message})`);
  }
  return validateHoldout(json);
}

/** Clears what an earlier run wrote; refuses a non-empty folder that synth-shapes did not make. */
async function prepareOut(out: string): Promise<void> {
  if (existsSync(out)) {
    const names = await readdir(out);
    if (names.length > 0) {
      const info = names.includes(INFO_FILE) ? JSON.parse(await readFile(path.join(out, INFO_FILE), 'utf8')) : null;
      if (info?.generator !== GENERATOR) {
        throw new Error(`synth-shapes: ${out} is not empty and was not made by synth-shapes; choose an empty or new folder`);
      }
      for (const n of names) await rm(path.join(out, n), { recursive: true, force: true });
    }
  }
  await mkdir(path.join(out, 'images'), { recursive: true });
}

function espeakAvailable(): boolean {
  const r = spawnSync('espeak-ng', ['--version'], { stdio: 'ignore' });
  return !r.error && r.status === 0;
}

async function writeAudio(file: string, ex: AudioExample): Promise<void> {
  if (ex.tones) {
    await writeFile(file, encodeWav16(synthBeeps(COLOUR_TONES_HZ[ex.tones.colour], ex.tones.count)));
    return;
  }
  const r = spawnSync('espeak-ng', ['-v', 'en', '-w', file, ex.spoken!], { stdio: ['ignore', 'ignore', 'pipe'] });
  if (r.error || r.status !== 0) throw new Error(`espeak-ng failed for "${ex.spoken}": ${r.error?.message ?? r.stderr?.toString().trim()}`);
}

/** Generates the dataset into `opts.out` (see the module comment). Deterministic from the options. */
export async function synthShapes(opts: SynthShapesOptions): Promise<SynthShapesReport> {
  const log = opts.log ?? (() => {});
  const size = opts.imageSize ?? 64;
  if (!Number.isInteger(opts.n) || opts.n < 1) throw new Error(`synth-shapes: --n must be a positive integer (got ${opts.n})`);
  if (!Number.isInteger(size) || size < 32) throw new Error(`synth-shapes: --image_size must be an integer ≥ 32 (got ${size})`);
  const nTest = opts.nTest ?? Math.max(20, Math.round(opts.n / 10));
  const mix = opts.mix ?? DEFAULT_MIX;
  const testMix = opts.testMix ?? mix;
  const out = path.resolve(opts.out);
  // Checked before prepareOut empties the folder, so a bad flag loses no earlier dataset.
  const nDrills = opts.drills ?? 0;
  if (!Number.isInteger(nDrills) || nDrills < 0) throw new Error(`synth-shapes: --drills must be a non-negative integer (got ${opts.drills})`);
  const drillMix = opts.drillMix ?? DEFAULT_DRILL_MIX;
  if (nDrills > 0 && !opts.explain && (drillMix.exists || drillMix.compare)) {
    throw new Error('synth-shapes: exists/compare drills need --explain (such a drill teaches the verdict of an explained answer)');
  }
  if (opts.checkEach && !opts.explain) throw new Error('synth-shapes: --check_each needs --explain (it words an explained exists answer)');
  const wording: ShapesWording = { explain: opts.explain, kindFirst: opts.kindFirst, checkEach: opts.checkEach };
  const drillPairs = opts.drillPairs ?? 'train';
  if (drillPairs !== 'train' && drillPairs !== 'all') throw new Error(`synth-shapes: --drill_pairs must be "train" or "all" (got "${drillPairs}")`);
  await prepareOut(out);
  const media = (rel: string) => (opts.absolutePaths ? path.join(out, rel) : rel);

  const seen = new Set<string>();
  const holdout = opts.holdout;
  const splits: Record<string, ShapesExample[]> = {};
  for (const p of splitPlan(opts.seed, opts.n, nTest, holdout)) {
    splits[p.split] = generateShapesExamples({ seed: p.seed, n: p.n, size, mix: p.split === 'train' ? mix : testMix, seen, holdout: holdout && { rule: holdout, keep: p.keep! }, wording });
  }
  // Drills are words, not pictures: the holdout rule's positions and radii say nothing about them, and with
  // drillPairs "all" neither do its pairs.
  const drillHoldout = holdout && drillPairs === 'train' ? { rule: holdout, keep: 'train' as const } : undefined;
  const drills = nDrills > 0 ? generateShapesExamples({ seed: testSeed(opts.seed, 4), n: nDrills, size, mix: drillMix, holdout: drillHoldout, wording }) : [];
  const report: SynthShapesReport = { out, rows: { train: 0, test: 0, trainAudio: 0, testAudio: 0 }, images: 0, audioFiles: 0, types: {}, notes: [] };
  const meta: PlainRow[] = [];
  for (const [split, examples] of Object.entries(splits)) {
    const rows: PlainRow[] = [];
    const counts: Record<string, number> = (report.types[split] = {});
    for (const [i, ex] of examples.entries()) {
      const id = `shapes-${split}-${String(i).padStart(6, '0')}`;
      const files = ex.scenes.map((_, k) => `images/${id}-${k}.png`);
      for (const [k, f] of files.entries()) await writeFile(path.join(out, f), pngBytes(ex, k));
      report.images += files.length;
      rows.push(shapesRow(id, ex, files.map(media)));
      meta.push({ id, split, question_type: ex.questionType, answer: ex.answer, images: files.map((file, k) => ({ file, shapes: ex.scenes[k].shapes })) });
      counts[ex.questionType] = (counts[ex.questionType] ?? 0) + 1;
    }
    if (split === 'train' && drills.length > 0) {
      for (const [i, ex] of drills.entries()) {
        const row = drillRow(`shapes-drill-${String(i).padStart(6, '0')}`, ex, wording);
        rows.push(row);
        meta.push({ id: row.id, split, question_type: ex.questionType, answer: ex.answer, drill: true });
      }
      log(`train: ${drills.length} text-only drill rows (${Object.entries(drillMix).filter(([, w]) => (w ?? 0) > 0).map(([k]) => k).join(', ')}; pairs: ${drillPairs})`);
    }
    await writeFile(path.join(out, `${split}.jsonl`), toJsonl(rows));
    const key = ({ train: 'train', test: 'test', test_regions: 'testRegions', test_pairs: 'testPairs' } as const)[split as 'train'];
    report.rows[key] = rows.length;
    log(`${split}: ${rows.length} rows, ${Object.entries(counts).map(([t, c]) => `${t} ${c}`).join(', ')}`);
  }

  let spoken = false;
  if (opts.audio) {
    spoken = espeakAvailable();
    if (!spoken) report.notes.push('espeak-ng not found: spoken shape names skipped, tone rows only');
    await mkdir(path.join(out, 'audio'), { recursive: true });
    const audioSplits = {
      train: generateAudioExamples({ seed: opts.seed ^ 0x5bd1e995, n: Math.max(1, Math.round(opts.n / 4)), spoken }),
      test: generateAudioExamples({ seed: testSeed(opts.seed) ^ 0x5bd1e995, n: Math.max(1, Math.round(nTest / 4)), spoken }),
    };
    for (const [split, examples] of Object.entries(audioSplits)) {
      const rows: PlainRow[] = [];
      for (const [i, ex] of examples.entries()) {
        const id = `shapes-audio-${split}-${String(i).padStart(6, '0')}`;
        const file = `audio/${id}.wav`;
        await writeAudio(path.join(out, file), ex);
        rows.push({ id, messages: [{ role: 'user', content: ex.question }, { role: 'assistant', content: ex.answer }], speech_audios: [media(file)] });
        meta.push({ id, split, question_type: ex.questionType, answer: ex.answer, audio: { file, ...(ex.tones ?? { spoken: ex.spoken }) } });
      }
      report.audioFiles += rows.length;
      report.rows[split === 'train' ? 'trainAudio' : 'testAudio'] = rows.length;
      await writeFile(path.join(out, `${split}_audio.jsonl`), toJsonl(rows));
    }
    log(`audio: ${report.rows.trainAudio} train / ${report.rows.testAudio} test rows (${spoken ? 'tones and spoken names' : 'tones'})`);
  }

  await writeFile(path.join(out, 'meta.jsonl'), toJsonl(meta));
  const info = { generator: GENERATOR, version: 1, seed: opts.seed, n: opts.n, n_test: nTest, image_size: size, mix, ...(opts.testMix ? { test_mix: testMix } : {}), ...(opts.explain ? { explain: true } : {}), ...(opts.kindFirst ? { kind_first: true } : {}), ...(opts.checkEach ? { check_each: true } : {}), ...(nDrills ? { drills: nDrills, ...(opts.drillMix ? { drill_mix: drillMix } : {}), ...(drillPairs === 'all' ? { drill_pairs: drillPairs } : {}) } : {}), audio: !!opts.audio, spoken, absolute_paths: !!opts.absolutePaths,
    // The rule that made the split: train/test pictures never show what it holds out (nor do drills name it,
    // unless drill_pairs is "all"); test_regions and test_pairs are drawn only from what it holds out.
    ...(holdout ? { holdout, splits: Object.fromEntries(Object.entries(splits).map(([k, v]) => [k, v.length])) } : {}) };
  await writeFile(path.join(out, INFO_FILE), JSON.stringify(info, null, 2) + '\n');
  for (const note of report.notes) log(`note: ${note}`);
  return report;
}
