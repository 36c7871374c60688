/** Shared fixtures for training tests: a tiny vector-modality checkpoint and a "which is larger" dataset. */
import { writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { writeDirAtomic } from '../../node/atomic-write.js';
import { makeTinyMultimodalFiles } from '../../src/tiny/tiny-multimodal.js';
import { Rng } from '../../src/util/rng.js';
import { tmpDir } from './temp-dir.js';

// Many tests import the scratch folder from here, next to the fixtures that use it.
export { tmpDir };

/** Writes a tiny qwen2 + vector(dim 8, 2 tokens) checkpoint and returns its folder. */
export async function tinyVectorModel(dir?: string, seed = 5): Promise<string> {
  const out = dir ?? path.join(await tmpDir(), 'model');
  await writeDirAtomic(out, await makeTinyMultimodalFiles({ arch: 'qwen2', modalities: ['vector'], hiddenSize: 32, numHiddenLayers: 2, seed }));
  return out;
}

export function vectorRows(n: number, seed = 1): Record<string, unknown>[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, (_, i) => {
    const a = Array.from({ length: 8 }, () => rng.next() * 2 - 1);
    const b = Array.from({ length: 8 }, () => rng.next() * 2 - 1);
    const sum = (v: number[]) => v.reduce((x, y) => x + y, 0);
    return {
      id: `q${i}`,
      messages: [
        { role: 'user', content: 'Which is larger, <vector> or <vector>?' },
        { role: 'assistant', content: sum(a) > sum(b) ? 'the first one' : 'the second one' },
      ],
      vectors: [a, b],
    };
  });
}

/** Writes rows as JSONL and returns the path. */
export async function writeJsonl(rows: unknown[], dir?: string): Promise<string> {
  const file = path.join(dir ?? (await tmpDir()), 'train.jsonl');
  await writeFile(file, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  return file;
}
