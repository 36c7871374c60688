/**
 * The training data, prepared up front: rows read (JSON, JSONL, HF save_to_disk), validated and tokenised
 * with the model's chat template before the first step, so every bad row is reported by id at once (the seed
 * silently moved on to the next row mid-epoch). Relative media paths resolve against the dataset's folder.
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { parseHubId } from '../../src/io/hub-id.js';
import type { EncodedChat } from '../../src/chat/encode-chat.js';
import type { LMM } from '../../src/lmm/lmm.js';
import type { ModelSource } from '../../src/io/source.js';
import { DatasetValidationError, describeBadRow, type BadRow } from '../../src/data/validate.js';
import { readDataset, resolveMediaPath } from '../dataset/read-dataset.js';
import { openSource } from '../folder-source.js';

export interface TrainingRows {
  encoded: EncodedChat[];
  /** The rows as read, aligned with `encoded` (evaluation builds its questions from them). */
  rows: Record<string, unknown>[];
  badRows: number;
  baseDir: string;
  example: unknown;
  tokenizerSource: ModelSource | null;
  /** Rewrites relative encoder paths in config.json to absolute ones, so outputs load from anywhere. */
  configOverrides: (config: Record<string, unknown>) => Record<string, unknown>;
}

const MEDIA_EXT = /\.(png|jpe?g|gif|webp|bmp|wav|mp3|flac|ogg|mp4|webm|mov|mkv|avi)$/i;

/** Paths that name media files must exist; checked up front rather than failing at step 5,000. */
function missingMedia(row: Record<string, unknown>, keys: string[], baseDir: string): string | null {
  for (const key of keys) {
    const items = row[key];
    if (!Array.isArray(items)) continue;
    for (let i = 0; i < items.length; i++) {
      const it = items[i];
      if (typeof it !== 'string' || it.length > 4096 || it.includes('\n') || !MEDIA_EXT.test(it)) continue;
      const p = resolveMediaPath(it, baseDir);
      if (/^[a-z][a-z0-9+.-]*:/i.test(p)) continue;
      if (!existsSync(p)) return `${key}[${i}]: file not found: ${p}`;
    }
  }
  return null;
}

export async function loadTrainingRows(
  datasetPath: string,
  lmm: LMM,
  skipBadRows: boolean,
  log: (s: string) => void,
  opts: { split?: string } = {},
): Promise<TrainingRows> {
  const ds = await readDataset(datasetPath, { skipBadRows: true, split: opts.split });
  const bad: BadRow[] = ds.unreadable.map((u) => ({ id: `#${u.index}`, index: u.index, message: `${u.source}: ${u.message}` }));
  const encoded: EncodedChat[] = [];
  const rows: Record<string, unknown>[] = [];
  const seen = new Set<string>();
  const keys = lmm.modalities.map((m) => m.dataKey);
  ds.rows.forEach((row, i) => {
    const index = ds.indices[i];
    const id = row.id !== undefined && row.id !== null ? String(row.id) : `#${index}`;
    try {
      if (seen.has(id)) throw new Error(`duplicate id (ids must be unique: cached features are keyed by id)`);
      const missing = missingMedia(row, keys, ds.baseDir);
      if (missing) throw new Error(missing);
      encoded.push(lmm.encodeRow({ ...row, id } as never, { mode: 'train' }, index));
      rows.push({ ...row, id });
      seen.add(id);
    } catch (e) {
      bad.push({ id, index, message: (e as Error).message.replace(/^row "[^"]*": /, '') });
    }
  });
  if (bad.length) {
    if (!skipBadRows) throw new DatasetValidationError(bad);
    log(`skipping ${bad.length} bad row(s) (--skip_bad_rows):`);
    for (const b of bad.slice(0, 10)) log(`  ${describeBadRow(b)}`);
    if (bad.length > 10) log(`  … and ${bad.length - 10} more`);
  }
  if (encoded.length === 0) throw new Error(`${datasetPath}: no usable rows`);
  log(`dataset ${datasetPath}${opts.split ? ` [${opts.split}]` : ''} (${ds.format}): ${encoded.length} rows`);

  const modelDir = lmm.meta.baseModel && !/^https?:/.test(lmm.meta.baseModel) ? lmm.meta.baseModel : null;
  const configOverrides = (config: Record<string, unknown>) => {
    const section = config.multi_token as { modalities?: Record<string, unknown>[] } | undefined;
    for (const m of section?.modalities ?? []) {
      const e = m.encoder;
      if (typeof e !== 'string' || /^https?:\/\//.test(e) || path.isAbsolute(e)) continue;
      const inModel = modelDir ? path.join(modelDir, e) : null;
      if (inModel && existsSync(inModel)) m.encoder = inModel;
      // A Hugging Face id stays an id (opened through the hub cache wherever the output is loaded).
      else if (!(parseHubId(e) && !existsSync(e))) m.encoder = path.resolve(e);
    }
    return config;
  };
  return {
    encoded,
    rows,
    badRows: bad.length,
    baseDir: ds.baseDir,
    example: ds.rows[0],
    tokenizerSource: modelDir ? openSource(modelDir) : null,
    configOverrides,
  };
}
