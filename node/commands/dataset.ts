/**
 * The `multi-token dataset …` commands: `llava`, `merge`, `check`, `synth-shapes`. Each `run…` function takes
 * parsed options, prints through `io`, and resolves to the process exit code; `registerDatasetCommands` wires
 * them into a commander program with the snake_case flags the seed's scripts use.
 */
import type { Command } from 'commander';
import { QUESTION_TYPES, type QuestionType } from '../../src/data/shapes.js';
import { checkDatasetSplits, formatSplitsReport } from '../dataset/check-splits.js';
import { convertLlava } from '../dataset/llava.js';
import { mergeDatasets } from '../dataset/merge.js';
import { holdoutFromSpec, synthShapes } from '../dataset/synth-shapes.js';
import type { OutputFormat } from '../dataset/write-dataset.js';

export { checkDataset, formatCheckReport, type CheckReport } from '../dataset/check.js';
export { checkDatasetSplits, formatSplitsReport, type SplitsReport } from '../dataset/check-splits.js';
export { convertLlava, type ConversionReport } from '../dataset/llava.js';
export { mergeDatasets, type MergeReport } from '../dataset/merge.js';
export { synthShapes, type SynthShapesReport } from '../dataset/synth-shapes.js';
export { readDataset, readDatasetRows, resolveDataset, resolveMediaPath } from '../dataset/read-dataset.js';
export { writeSaveToDisk, writeDatasetDict, writeJsonl } from '../dataset/write-dataset.js';

/** Where commands print: stdout-like `log`, stderr-like `error`. */
export interface CommandIO {
  log(line: string): void;
  error(line: string): void;
}

const consoleIO: CommandIO = { log: (l) => console.log(l), error: (l) => console.error(l) };

function formatOf(v: string | undefined): OutputFormat {
  if (v === undefined || v === 'jsonl' || v === 'arrow') return v ?? 'jsonl';
  throw new Error(`--format must be jsonl or arrow (got "${v}")`);
}

function intOf(name: string, v: unknown, min: number): number {
  const n = typeof v === 'number' ? v : Number(v);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer ≥ ${min} (got ${JSON.stringify(v)})`);
  return n;
}

/** `colour=3,shape=3,count` → weights (a bare name counts 1); `flag` names the option in errors. */
export function parseMix(spec: string, flag = 'mix'): Partial<Record<QuestionType, number>> {
  const mix: Partial<Record<QuestionType, number>> = {};
  for (const part of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
    const [name, w = '1'] = part.split('=');
    if (!(QUESTION_TYPES as readonly string[]).includes(name)) throw new Error(`--${flag}: unknown question type "${name}" (known: ${QUESTION_TYPES.join(', ')})`);
    mix[name as QuestionType] = intOf(`${flag} ${name}`, w, 0);
  }
  return mix;
}

/** Runs a command body, turning thrown errors into a message and exit code 2 (1 is "bad rows found"). */
async function guarded(io: CommandIO, body: () => Promise<number>): Promise<number> {
  try {
    return await body();
  } catch (e) {
    io.error(`error: ${(e as Error).message}`);
    return 2;
  }
}

/** `dataset llava --in llava.json [--in more.json] --images DIR --out DIR [--format jsonl|arrow] [--keep_text_only]` */
export function runDatasetLlava(
  opts: { in: string[]; images: string; out: string; format?: string; keepTextOnly?: boolean },
  io: CommandIO = consoleIO,
): Promise<number> {
  return guarded(io, async () => {
    if (opts.in.length === 0) throw new Error('dataset llava: give at least one --in file');
    const r = await convertLlava({ inputs: opts.in, images: opts.images, out: opts.out, format: formatOf(opts.format), keepTextOnly: opts.keepTextOnly, log: io.log });
    const skipped = Object.values(r.skipped).reduce((n, s) => n + s.count, 0);
    io.log(`converted ${r.converted} rows, skipped ${skipped} → ${r.out}`);
    for (const [reason, s] of Object.entries(r.skipped)) io.log(`  skipped ${s.count}: ${reason} (e.g. ${s.ids.join(', ')})`);
    if (r.imageTokenFixed) io.log(`  ${r.imageTokenFixed} rows had <image> moved or added to LLaVA's placement ("<image>\\n" first)`);
    return 0;
  });
}

/** `dataset merge --out DIR [--seed S] [--no_shuffle] [--format jsonl|arrow] IN1 IN2 …` */
export function runDatasetMerge(
  opts: { inputs: string[]; out: string; seed?: number | string; shuffle?: boolean; format?: string },
  io: CommandIO = consoleIO,
): Promise<number> {
  return guarded(io, async () => {
    const seed = opts.seed === undefined ? undefined : intOf('seed', opts.seed, 0);
    const r = await mergeDatasets({ inputs: opts.inputs, out: opts.out, seed, shuffle: opts.shuffle, format: formatOf(opts.format) });
    for (const i of r.inputs) io.log(`  ${i.path}: ${i.rows} rows (${i.format})`);
    io.log(`merged ${r.rows} rows → ${r.out}`);
    if (r.renamedIds.count) io.log(`  ${r.renamedIds.count} colliding ids renamed (e.g. ${r.renamedIds.examples.join(', ')})`);
    if (r.pathsRewritten) io.log(`  ${r.pathsRewritten} relative media paths rewritten to point at the same files from ${r.out}`);
    for (const n of r.notes) io.log(`  note: ${n}`);
    return 0;
  });
}

/** `dataset check DIR [--modality_builder NAME] [--split NAME] [--no_check_files]`: every split; exit code 1 when any row is bad. */
export function runDatasetCheck(
  opts: { path: string; modalityBuilder?: string; split?: string; checkFiles?: boolean },
  io: CommandIO = consoleIO,
): Promise<number> {
  return guarded(io, async () => {
    const r = await checkDatasetSplits(opts);
    for (const line of formatSplitsReport(r)) io.log(line);
    return r.splits.some((s) => s.bad.length) ? 1 : 0;
  });
}

/** `dataset synth-shapes --out DIR --n N --seed S [--n_test N] [--image_size 64] [--mix …] [--test_mix …] [--holdout default|FILE|JSON] [--explain] [--kind_first] [--check_each] [--drills N] [--drill_mix …] [--drill_pairs train|all] [--audio] [--absolute_paths]` */
export function runDatasetSynthShapes(
  opts: { out: string; n: number | string; seed: number | string; nTest?: number | string; imageSize?: number | string; mix?: string; testMix?: string; holdout?: string; explain?: boolean; kindFirst?: boolean; checkEach?: boolean; drills?: number | string; drillMix?: string; drillPairs?: string; audio?: boolean; absolutePaths?: boolean },
  io: CommandIO = consoleIO,
): Promise<number> {
  return guarded(io, async () => {
    const r = await synthShapes({
      out: opts.out,
      n: intOf('n', opts.n, 1),
      seed: intOf('seed', opts.seed, 0),
      nTest: opts.nTest === undefined ? undefined : intOf('n_test', opts.nTest, 1),
      imageSize: opts.imageSize === undefined ? undefined : intOf('image_size', opts.imageSize, 32),
      mix: opts.mix ? parseMix(opts.mix) : undefined,
      testMix: opts.testMix ? parseMix(opts.testMix, 'test_mix') : undefined,
      holdout: opts.holdout === undefined ? undefined : await holdoutFromSpec(opts.holdout),
      explain: opts.explain,
      kindFirst: opts.kindFirst,
      checkEach: opts.checkEach,
      drills: opts.drills === undefined ? undefined : intOf('drills', opts.drills, 0),
      drillMix: opts.drillMix ? parseMix(opts.drillMix, 'drill_mix') : undefined,
      drillPairs: opts.drillPairs as 'train' | 'all' | undefined,
      audio: opts.audio,
      absolutePaths: opts.absolutePaths,
      log: io.log,
    });
    const heldOut = r.rows.testRegions === undefined ? '' : ` + ${r.rows.testRegions} held-out-region + ${r.rows.testPairs} held-out-pair`;
    io.log(`wrote ${r.rows.train} train + ${r.rows.test} test${heldOut} rows, ${r.images} images${r.audioFiles ? `, ${r.audioFiles} audio clips` : ''} → ${r.out}`);
    return 0;
  });
}

/**
 * Adds `dataset llava|merge|check|synth-shapes` to a commander program. Each action sets `process.exitCode`
 * (0 ok, 1 bad rows found by `check`, 2 error).
 */
export function registerDatasetCommands(program: Command, io: CommandIO = consoleIO): Command {
  const dataset = program.command('dataset').description('dataset tools: convert, merge, check, generate');
  const done = (code: number) => {
    process.exitCode = code;
  };
  dataset
    .command('llava')
    .description("convert LLaVA JSON (conversations, from: human|gpt) to the seed's schema")
    .option('--in <file>', 'LLaVA JSON file (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .requiredOption('--images <dir>', 'folder the rows\' image paths are relative to')
    .requiredOption('--out <dir>', 'output folder')
    .option('--format <fmt>', 'jsonl (out/train.jsonl) or arrow (save_to_disk folder)', 'jsonl')
    .option('--keep_text_only', 'keep rows without an image')
    .action(async (o) => done(await runDatasetLlava({ in: o.in, images: o.images, out: o.out, format: o.format, keepTextOnly: o.keep_text_only }, io)));
  dataset
    .command('merge')
    .description('concatenate and shuffle datasets')
    .argument('<inputs...>', 'datasets to merge')
    .requiredOption('--out <dir>', 'output folder')
    .option('--seed <n>', 'shuffle seed', '42')
    .option('--no_shuffle', 'keep input order')
    .option('--format <fmt>', 'jsonl or arrow', 'jsonl')
    .action(async (inputs: string[], o) =>
      done(await runDatasetMerge({ inputs, out: o.out, seed: o.seed, shuffle: !o.no_shuffle, format: o.format }, io)),
    );
  dataset
    .command('check')
    .description('validate every split (train, test, validation, …), print counts per modality and question type, flag overlap between splits (exit 1 if any row is bad)')
    .argument('<path>', 'dataset file or folder')
    .option('--modality_builder <name>', 'validate against this builder\'s modalities')
    .option('--split <name>', 'check only this split (default: every split found)')
    .option('--no_check_files', 'do not check that media files exist')
    .action(async (p: string, o) =>
      done(await runDatasetCheck({ path: p, modalityBuilder: o.modality_builder, split: o.split, checkFiles: !o.no_check_files }, io)),
    );
  dataset
    .command('synth-shapes')
    .description('generate the synthetic coloured-shapes dataset (images, captions, QA; optional audio)')
    .requiredOption('--out <dir>', 'output folder')
    .requiredOption('--n <n>', 'training rows')
    .option('--seed <n>', 'random seed', '0')
    .option('--n_test <n>', 'held-out rows (default max(20, n/10))')
    .option('--image_size <px>', 'canvas size', '64')
    .option('--mix <spec>', `question-type weights, e.g. colour=3,shape=3 (types: ${QUESTION_TYPES.join(', ')})`)
    .option('--test_mix <spec>', 'question-type weights of the test splits (default: --mix)')
    .option('--holdout <rule>', 'keep regions of scene space out of training: "default", "none", a JSON file or inline JSON {positions, radii, pairs}')
    .option('--explain', 'exists and compare answers say what the pictures show before the verdict')
    .option('--kind_first', 'answers name each shape\'s kind before its colour ("A circle in red."); questions keep the colour first')
    .option('--check_each', 'explained exists answers check the shapes one at a time (needs --explain)')
    .option('--drills <n>', 'add n text-only rows with the pictures given in words (exists/compare drills need --explain)')
    .option('--drill_mix <spec>', 'question-type weights of the drills (default exists=1,compare=1)')
    .option('--drill_pairs <which>', '"train": drills never name a held-out colour×kind pair; "all": their words may (pictures never do)', 'train')
    .option('--audio', 'also write tone (and, with espeak-ng, spoken) audio rows')
    .option('--absolute_paths', 'write absolute media paths')
    .action(async (o) =>
      done(
        await runDatasetSynthShapes(
          { out: o.out, n: o.n, seed: o.seed, nTest: o.n_test, imageSize: o.image_size, mix: o.mix, testMix: o.test_mix, holdout: o.holdout, explain: o.explain, kindFirst: o.kind_first, checkEach: o.check_each, drills: o.drills, drillMix: o.drill_mix, drillPairs: o.drill_pairs, audio: o.audio, absolutePaths: o.absolute_paths },
          io,
        ),
      ),
    );
  dataset
    .command('split-documents')
    .description("split long documents at sentence ends into ≤ 512-token pieces (the seed's split_text_into_documents)")
    .argument('<path>', 'dataset file or folder')
    .requiredOption('--out <dir>', 'output folder')
    .option('--encoder <dir|id>', 'tokenizer that counts tokens (GTE folder or Hugging Face id)', 'thenlper/gte-large')
    .option('--key <name>', 'data key of the documents', 'documents')
    .option('--token <tok>', 'the documents\' token in the messages', '<document>')
    .option('--max_tokens <n>', 'tokens per piece', '512')
    .option('--format <fmt>', 'jsonl or arrow', 'jsonl')
    .action(async (p: string, o) => {
      const { splitDocumentsDataset } = await import('../dataset/split-documents.js');
      await splitDocumentsDataset({ input: p, out: o.out, encoder: o.encoder, key: o.key, token: o.token, maxTokens: Number(o.max_tokens), format: o.format }, (s) => io.log(s));
      done(0);
    });
  return dataset;
}
