/**
 * `multi-token eval --model DIR --dataset DIR`: answers every held-out question (the last assistant message is
 * the reference) with greedy decoding, in batches, and prints exact-match accuracy per question type (types
 * from the dataset's `meta.jsonl` when present, as `dataset synth-shapes` writes it). A dataset folder made
 * with a holdout rule has three test splits — `test` (in distribution), `test_regions` and `test_pairs` (the
 * held-out regions and colour×kind pairs) — and each gets its own table.
 */
import { stat } from 'node:fs/promises';
import * as path from 'node:path';
import type { Command } from 'commander';
import { loadLMM } from '../../src/lmm/load.js';
import type { ChatRow } from '../../src/chat/encode-chat.js';
import { accuracyByType, formatAccuracyTable, normaliseAnswer } from '../../src/eval/accuracy.js';
import { answerQuestions, questionsOf } from '../../src/eval/exact-match.js';
import { readQuestionTypes } from '../dataset/question-types.js';
import { readDataset } from '../dataset/read-dataset.js';
import { findEvalSplit, listSplits, type SplitRef } from '../dataset/splits.js';
import { openSource } from '../folder-source.js';
import { localLoader } from '../media-local.js';
import { initRuntime } from '../runtime.js';
import { DTYPE_HELP, dtypeOption } from './dtype-option.js';
import type { WeightDType } from '../../src/nn/frozen-weight.js';
import { int } from './options.js';

export interface EvalOptions {
  model: string;
  dataset: string;
  limit?: number;
  batch_size: number;
  max_new_tokens: number;
  json?: boolean;
  backend?: string;
  show_errors?: number;
  dtype?: WeightDType;
  /** With a dataset folder: the split to read (`test_regions` → test_regions.jsonl). Default: its held-out split. */
  split?: string;
}

/** The test splits `dataset synth-shapes` may write, in the order they are reported. */
export const TEST_SPLITS = ['test', 'test_regions', 'test_pairs'] as const;

/** The test splits present in a dataset folder (none for a file). */
export async function testSplitsOf(dataset: string): Promise<string[]> {
  if (!(await stat(dataset)).isDirectory()) return [];
  const names = new Set((await listSplits(dataset)).map((s) => s.name));
  return TEST_SPLITS.filter((s) => names.has(s));
}

/** The split of a dataset folder to evaluate: the one named, else its held-out split (null for a file). */
async function evalSplitOf(dataset: string, split: string | undefined): Promise<SplitRef | null> {
  if (!(await stat(dataset)).isDirectory()) return null;
  if (split === undefined) return findEvalSplit(dataset);
  const hit = (await listSplits(dataset)).find((s) => s.name === split);
  if (!hit) throw new Error(`eval: ${dataset} has no split ${split}`);
  return hit;
}

/** Runs the evaluation; returns the per-type table (also used by the demo-model recipe and tests). */
export async function runEval(o: EvalOptions) {
  const lmm = await loadLMM(o.model, { open: openSource, dtype: o.dtype });
  // A dataset folder is evaluated on the split asked for, else its held-out split (test, else validation, …), as
  // training evaluates it.
  const split = await evalSplitOf(o.dataset, o.split);
  const ds = await readDataset(split?.path ?? o.dataset, { split: split?.split });
  const types = await readQuestionTypes(o.dataset);
  const rows = ds.rows.slice(0, o.limit ?? ds.rows.length) as unknown as ChatRow[];
  const questions = questionsOf(rows, (id) => types.get(id));
  const items = await answerQuestions(lmm, questions, {
    batchSize: o.batch_size,
    maxNewTokens: o.max_new_tokens,
    preprocess: { loadBytes: localLoader({ baseDir: ds.baseDir }) },
    onProgress: (done, total) => process.stderr.write(`\r[eval] ${done}/${total}`),
  });
  process.stderr.write('\n');
  lmm.dispose();
  return { ...accuracyByType(items), items };
}

export function registerEval(program: Command): void {
  program
    .command('eval')
    .description('exact-match accuracy per question type on a held-out dataset')
    .requiredOption('--model <dir>', 'checkpoint folder or URL')
    .requiredOption('--dataset <path>', 'a dataset folder (uses its test split, else validation, and meta.jsonl) or file')
    .option('--limit <n>', 'evaluate the first n rows', int)
    .option('--batch_size <n>', 'questions per batch', int, 16)
    .option('--max_new_tokens <n>', 'answer length cap', int, 24)
    .option('--show_errors <n>', 'print up to n wrong answers', int, 0)
    .option('--split <names>', `comma-separated test splits of a dataset folder (default: every one present of ${TEST_SPLITS.join(', ')})`)
    .option('--json', 'print each table as one JSON line {split, rows, overall}')
    .option('--backend <name>', 'tfjs backend')
    .option('--dtype <dtype>', DTYPE_HELP, dtypeOption)
    .action(async (o: EvalOptions) => {
      await initRuntime({ backend: o.backend });
      const present = await testSplitsOf(o.dataset);
      const splits = o.split ? o.split.split(',').map((s) => s.trim()) : present.length > 0 ? present : [undefined];
      for (const [k, split] of splits.entries()) {
        const r = await runEval({ ...o, split });
        if (o.json) process.stdout.write(JSON.stringify({ split: split ?? path.basename(o.dataset), rows: r.rows, overall: r.overall }) + '\n');
        else process.stdout.write(`${k > 0 ? '\n' : ''}${split && splits.length > 1 ? `${split}:\n` : ''}${formatAccuracyTable(r)}\n`);
        const wrong = r.items.filter((x) => normaliseAnswer(x.got) !== normaliseAnswer(x.expected)).slice(0, o.show_errors ?? 0);
        for (const w of wrong) process.stdout.write(`  ${w.id} [${w.type}] expected ${JSON.stringify(w.expected)}, got ${JSON.stringify(w.got)}\n`);
      }
    });
}
