/**
 * `multi-token eval --model DIR --dataset DIR`: answers every held-out question (the last assistant message is
 * the reference) with greedy decoding, in batches, and prints exact-match accuracy per question type (types
 * from the dataset's `meta.jsonl` when present, as `dataset synth-shapes` writes it).
 */
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import * as path from 'node:path';
import type { Command } from 'commander';
import { loadLMM } from '../../src/lmm/load.js';
import { generateBatch } from '../../src/lmm/generate.js';
import type { ChatRow } from '../../src/chat/encode-chat.js';
import { accuracyByType, formatAccuracyTable, type EvalItem } from '../../src/eval/accuracy.js';
import { readDataset } from '../dataset/read-dataset.js';
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
}

async function questionTypes(datasetPath: string): Promise<Map<string, string>> {
  const dir = (await stat(datasetPath)).isDirectory() ? datasetPath : path.dirname(datasetPath);
  const meta = path.join(dir, 'meta.jsonl');
  const out = new Map<string, string>();
  if (!existsSync(meta)) return out;
  for (const line of (await readFile(meta, 'utf8')).split('\n')) {
    if (!line.trim()) continue;
    const m = JSON.parse(line) as { id: string; question_type?: string };
    if (m.question_type) out.set(m.id, m.question_type);
  }
  return out;
}

/** Runs the evaluation; returns the per-type table (also used by the demo-model recipe and tests). */
export async function runEval(o: EvalOptions) {
  const lmm = await loadLMM(o.model, { open: openSource, dtype: o.dtype });
  const file = (await stat(o.dataset)).isDirectory() && existsSync(path.join(o.dataset, 'test.jsonl')) ? path.join(o.dataset, 'test.jsonl') : o.dataset;
  const ds = await readDataset(file);
  const types = await questionTypes(o.dataset);
  const rows = ds.rows.slice(0, o.limit ?? ds.rows.length) as unknown as ChatRow[];
  const loadBytes = localLoader({ baseDir: ds.baseDir });
  const items: EvalItem[] = [];
  for (let i = 0; i < rows.length; i += o.batch_size) {
    const chunk = rows.slice(i, i + o.batch_size);
    const prompts = chunk.map((r) => {
      const last = r.messages.length - 1;
      if (r.messages[last]?.role !== 'assistant') throw new Error(`row ${JSON.stringify(r.id)}: the last message must be the reference answer`);
      return { ...r, messages: r.messages.slice(0, last) };
    });
    const outs = await generateBatch(lmm, prompts, { maxNewTokens: o.max_new_tokens, preprocess: { loadBytes } });
    chunk.forEach((r, j) => {
      const id = String(r.id ?? `#${i + j}`);
      items.push({ id, type: types.get(id) ?? 'all', expected: r.messages[r.messages.length - 1].content, got: outs[j].text });
    });
    process.stderr.write(`\r[eval] ${Math.min(i + o.batch_size, rows.length)}/${rows.length}`);
  }
  process.stderr.write('\n');
  lmm.dispose();
  return { ...accuracyByType(items), items };
}

export function registerEval(program: Command): void {
  program
    .command('eval')
    .description('exact-match accuracy per question type on a held-out dataset')
    .requiredOption('--model <dir>', 'checkpoint folder or URL')
    .requiredOption('--dataset <path>', 'a dataset folder (uses test.jsonl and meta.jsonl) or file')
    .option('--limit <n>', 'evaluate the first n rows', int)
    .option('--batch_size <n>', 'questions per batch', int, 16)
    .option('--max_new_tokens <n>', 'answer length cap', int, 24)
    .option('--show_errors <n>', 'print up to n wrong answers', int, 0)
    .option('--json', 'print the table as JSON')
    .option('--backend <name>', 'tfjs backend')
    .option('--dtype <dtype>', DTYPE_HELP, dtypeOption)
    .action(async (o: EvalOptions) => {
      await initRuntime({ backend: o.backend });
      const r = await runEval(o);
      if (o.json) process.stdout.write(JSON.stringify({ rows: r.rows, overall: r.overall }) + '\n');
      else process.stdout.write(formatAccuracyTable(r) + '\n');
      const wrong = r.items.filter((x) => x.got.trim().toLowerCase() !== x.expected.trim().toLowerCase()).slice(0, o.show_errors ?? 0);
      for (const w of wrong) process.stdout.write(`  ${w.id} [${w.type}] expected ${JSON.stringify(w.expected)}, got ${JSON.stringify(w.got)}\n`);
    });
}
