/**
 * Writes datasets as JSONL or as a Hugging Face `datasets` `save_to_disk` folder, so the output loads with
 * the seed's `load_from_disk(path)` as well as with `readDataset`. The folder layout follows what
 * `Dataset.save_to_disk` writes (datasets 2.x, which 3.x/4.x still load):
 *
 * - `data-00000-of-0000N.arrow`: Arrow IPC **stream** format, 1000-row record batches, schema metadata
 *   `huggingface` = `{"info": {"features": …}, "fingerprint": …}`;
 * - `dataset_info.json`: `{citation, description, features, homepage, license}` (top-level keys sorted);
 * - `state.json`: `_data_files`, `_fingerprint`, format fields, `_split` (keys sorted).
 *
 * A `DatasetDict` adds `dataset_dict.json` = `{"splits": [...]}` and one such folder per split.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, readdir, rename, rm } from 'node:fs/promises';
import { once } from 'node:events';
import * as path from 'node:path';
import { tableToIPC } from 'apache-arrow';
import { hfFeatures, inferRowsSchema, rowsToTable, type PlainRow } from '../../src/data/arrow-rows.js';
import { writeFileAtomic } from '../atomic-write.js';

/** JSONL text of rows: one JSON object per line, `\n`-terminated. */
export function toJsonl(rows: readonly PlainRow[]): string {
  return rows.map((r) => JSON.stringify(r)).join('\n') + (rows.length ? '\n' : '');
}

/** Writes rows as JSONL (atomically: a reader never sees half a file). */
export async function writeJsonl(file: string, rows: readonly PlainRow[]): Promise<void> {
  await mkdir(path.dirname(path.resolve(file)), { recursive: true });
  await writeFileAtomic(file, toJsonl(rows));
}

/**
 * Writes JSONL row by row (for conversions too large to hold in memory) into a temporary sibling that is
 * renamed over `file` by `close()`, so readers never see a partial file.
 */
export class JsonlWriter {
  private readonly tmp: string;
  private readonly stream;
  count = 0;

  constructor(readonly file: string) {
    this.tmp = `${file}.tmp-${process.pid}`;
    this.stream = createWriteStream(this.tmp);
  }

  static async open(file: string): Promise<JsonlWriter> {
    await mkdir(path.dirname(path.resolve(file)), { recursive: true });
    return new JsonlWriter(file);
  }

  async write(row: PlainRow): Promise<void> {
    this.count++;
    if (!this.stream.write(JSON.stringify(row) + '\n')) await once(this.stream, 'drain');
  }

  async close(): Promise<void> {
    this.stream.end();
    await once(this.stream, 'finish');
    await rename(this.tmp, this.file);
  }

  /** Removes the temporary file (after an error). */
  async abort(): Promise<void> {
    this.stream.destroy();
    await rm(this.tmp, { force: true });
  }
}

export interface SaveToDiskOptions {
  /** Split name stored in `state.json` (`_split`); null for a plain `Dataset`. */
  split?: string | null;
  /** Upper bound on one shard's size, as `save_to_disk(max_shard_size=…)`; default 500 MB like datasets. */
  maxShardBytes?: number;
}

/** A deterministic stand-in for datasets' fingerprint (16 hex digits): a hash of the rows. */
function fingerprintOf(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}

/**
 * Writes rows as a `save_to_disk` folder at `dir` (created if needed). Only this dataset's files in `dir` are
 * replaced — stale `data-*.arrow` shards are removed — so media files kept next to it are left alone.
 * Throws naming the column when a column mixes value kinds (e.g. strings in one row, numbers in another).
 */
export async function writeSaveToDisk(dir: string, rows: readonly PlainRow[], opts: SaveToDiskOptions = {}): Promise<string[]> {
  // A row missing a column stores null there, as HF does; readers treat null and [] alike.
  const jsonl = toJsonl(rows);
  const fingerprint = fingerprintOf(jsonl);
  const schema = inferRowsSchema(rows, fingerprint);
  const maxShardBytes = opts.maxShardBytes ?? 500 * 1024 * 1024;
  const numShards = Math.max(1, Math.min(rows.length, Math.ceil(Buffer.byteLength(jsonl) / maxShardBytes)));
  const names: string[] = [];
  await mkdir(dir, { recursive: true });
  for (let s = 0; s < numShards; s++) {
    // Contiguous shards of near-equal row counts, as Dataset.shard(contiguous=True) cuts them.
    const lo = Math.floor((s * rows.length) / numShards);
    const hi = Math.floor(((s + 1) * rows.length) / numShards);
    const name = `data-${String(s).padStart(5, '0')}-of-${String(numShards).padStart(5, '0')}.arrow`;
    await writeFileAtomic(path.join(dir, name), tableToIPC(rowsToTable(rows.slice(lo, hi), schema), 'stream'));
    names.push(name);
  }
  for (const n of await readdir(dir)) {
    if (/^data-\d{5}-of-\d{5}\.arrow$/.test(n) && !names.includes(n)) await rm(path.join(dir, n), { force: true });
  }
  const info = { citation: '', description: '', features: hfFeatures(schema), homepage: '', license: '' };
  const state = {
    _data_files: names.map((filename) => ({ filename })),
    _fingerprint: fingerprint,
    _format_columns: null,
    _format_kwargs: {},
    _format_type: null,
    _output_all_columns: false,
    _split: opts.split ?? null,
  };
  await writeFileAtomic(path.join(dir, 'dataset_info.json'), JSON.stringify(info, null, 2));
  await writeFileAtomic(path.join(dir, 'state.json'), JSON.stringify(state, null, 2));
  return names;
}

/** Writes a `DatasetDict` folder: `dataset_dict.json` plus a `save_to_disk` folder per split. */
export async function writeDatasetDict(dir: string, splits: Record<string, readonly PlainRow[]>, opts: Omit<SaveToDiskOptions, 'split'> = {}): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const [name, rows] of Object.entries(splits)) await writeSaveToDisk(path.join(dir, name), rows, { ...opts, split: name });
  await writeFileAtomic(path.join(dir, 'dataset_dict.json'), JSON.stringify({ splits: Object.keys(splits) }));
}

/** Output formats of the dataset tools. */
export type OutputFormat = 'jsonl' | 'arrow';

/**
 * Writes rows in the chosen format: `jsonl` → `<dir>/train.jsonl`; `arrow` → a `save_to_disk` folder at
 * `<dir>`. Returns the path a `--dataset_path` should name (the folder in both cases).
 */
export async function writeDataset(dir: string, rows: readonly PlainRow[], format: OutputFormat): Promise<string> {
  if (format === 'arrow') await writeSaveToDisk(dir, rows);
  else await writeJsonl(path.join(dir, 'train.jsonl'), rows);
  return dir;
}
