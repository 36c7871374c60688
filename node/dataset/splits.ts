/**
 * The splits of a dataset path: a `DatasetDict` folder's splits, a folder's `train.jsonl` / `test.jsonl` /
 * `validation.jsonl` … (also `train_audio.jsonl`-style variants, as `dataset synth-shapes` writes them), or the
 * one dataset a path names. `dataset check` checks each; training finds its held-out split here.
 */
import { existsSync, statSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import * as path from 'node:path';

export interface SplitRef {
  /** `train`, `test`, `validation`, `train_audio`, … (the file or folder name for a lone dataset). */
  name: string;
  /** What to pass to `readDataset`: a file, or the dataset folder (with `split` for a DatasetDict). */
  path: string;
  split?: string;
}

const SPLIT_FILE = /^(train|test|validation|valid|val|dev|eval)([_-][\w.-]*)?\.(jsonl|json)$/;
/** Held-out split names, in the order they are preferred for evaluation during training. */
export const EVAL_SPLITS = ['test', 'validation', 'valid', 'val', 'dev', 'eval'];

async function dictSplits(dir: string): Promise<string[] | null> {
  const file = path.join(dir, 'dataset_dict.json');
  if (!existsSync(file)) return null;
  const dict = JSON.parse(await readFile(file, 'utf8')) as { splits?: unknown };
  return Array.isArray(dict.splits) ? dict.splits.map(String) : [];
}

/** Every split under `p` (see the module comment), train first. */
export async function listSplits(p: string): Promise<SplitRef[]> {
  const abs = path.resolve(p);
  if (!existsSync(abs)) throw new Error(`dataset not found: ${p}`);
  if (!statSync(abs).isDirectory()) return [{ name: path.basename(abs).replace(/\.[^.]+$/, ''), path: abs }];
  const dict = await dictSplits(abs);
  if (dict) return order(dict.map((name) => ({ name, path: abs, split: name })));
  const names = (await readdir(abs)).filter((n) => SPLIT_FILE.test(n));
  // One file per split name: train.jsonl wins over train.json, as readDataset's folder lookup does.
  const byName = new Map<string, string>();
  for (const n of names.sort((a, b) => (a.endsWith('.jsonl') === b.endsWith('.jsonl') ? a.localeCompare(b) : a.endsWith('.jsonl') ? -1 : 1))) {
    const name = n.replace(/\.(jsonl|json)$/, '');
    if (!byName.has(name)) byName.set(name, path.join(abs, n));
  }
  if (byName.size === 0) return [{ name: path.basename(abs), path: abs }];
  return order([...byName].map(([name, file]) => ({ name, path: file })));
}

function order(splits: SplitRef[]): SplitRef[] {
  const rank = (n: string) => (n.startsWith('train') ? 0 : 1);
  return splits.sort((a, b) => rank(a.name) - rank(b.name) || a.name.localeCompare(b.name));
}

/**
 * The held-out split that goes with a training dataset path: the `test` (else `validation`, …) split of a
 * DatasetDict or a folder, or for a file `…/train.jsonl` (`train_audio.jsonl`) its sibling `test.jsonl`
 * (`test_audio.jsonl`) … Null when there is none.
 */
export async function findEvalSplit(datasetPath: string): Promise<SplitRef | null> {
  const abs = path.resolve(datasetPath);
  if (!existsSync(abs)) return null;
  if (statSync(abs).isDirectory()) {
    const splits = await listSplits(abs);
    for (const want of EVAL_SPLITS) {
      const hit = splits.find((s) => s.name === want);
      if (hit) return hit;
    }
    return null;
  }
  const base = path.basename(abs);
  const m = /^train([_-][\w.-]*)?\.(jsonl|json)$/.exec(base);
  if (!m) return null;
  for (const want of EVAL_SPLITS) {
    for (const ext of ['jsonl', 'json']) {
      const file = path.join(path.dirname(abs), `${want}${m[1] ?? ''}.${ext}`);
      if (existsSync(file)) return { name: `${want}${m[1] ?? ''}`, path: file };
    }
  }
  return null;
}
