/**
 * Question types of held-out rows, for per-type tables (`multi-token eval`, evaluation during training,
 * `dataset check`): from the dataset folder's `meta.jsonl` (`{id, question_type}` per row, as `dataset
 * synth-shapes` writes it). Rows themselves cannot carry it: the schema allows only `id`, `messages` and
 * modality data keys.
 */
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import * as path from 'node:path';

/** Row id → question type from `meta.jsonl` beside (or in) `datasetPath`; empty when there is none. */
export async function readQuestionTypes(datasetPath: string): Promise<Map<string, string>> {
  const dir = (await stat(datasetPath)).isDirectory() ? datasetPath : path.dirname(datasetPath);
  const meta = path.join(dir, 'meta.jsonl');
  const out = new Map<string, string>();
  if (!existsSync(meta)) return out;
  const lines = (await readFile(meta, 'utf8')).split('\n');
  lines.forEach((line, i) => {
    if (!line.trim()) return;
    let m: { id?: unknown; question_type?: unknown };
    try {
      m = JSON.parse(line) as typeof m;
    } catch (e) {
      throw new Error(`${meta}:${i + 1}: ${(e as Error).message}`);
    }
    if (m.id !== undefined && typeof m.question_type === 'string') out.set(String(m.id), m.question_type);
  });
  return out;
}
