/**
 * Reads a dataset in the seed's schema from disk: a `.json` file (array of rows, or `{"data": [...]}`), a
 * `.jsonl` file, a Hugging Face `datasets` `save_to_disk` folder (`state.json` + Arrow IPC stream shards), a
 * `DatasetDict` folder (`dataset_dict.json` + one folder per split), a folder of bare `*.arrow` shards (what the
 * seed loads with `load_dataset(path, data_files="*.arrow")`), or a folder holding `train.jsonl`/`train.json`.
 *
 * Rows are returned as stored. Relative media paths in them (e.g. `images: ["images/0001.png"]`) are meant to
 * be resolved against the dataset's `baseDir` (see `resolveDataset`) by whoever opens the files: the trainer
 * and `dataset check` do so, and the files stay movable as one folder.
 */
import { createReadStream, existsSync, statSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { RecordBatchReader } from 'apache-arrow';
import { rowsFromRecordBatch, type PlainRow } from '../../src/data/arrow-rows.js';
import { readJsonArray, readJsonLines, type JsonItem } from './json-stream.js';

/** The on-disk layouts `readDataset` understands. */
export type DatasetFormat = 'json' | 'jsonl' | 'hf-dataset' | 'hf-dataset-dict' | 'arrow-files';

/** A row with where it came from: `index` counts every row in the dataset (bad ones too), from 0. */
export interface DatasetRow {
  row: PlainRow;
  index: number;
  /** `file:line` for JSON/JSONL, `file#row` for Arrow. */
  source: string;
}

/** A row that could not be read (malformed JSON, not an object). */
export interface UnreadableRow {
  index: number;
  source: string;
  message: string;
}

export interface ReadDatasetOptions {
  /** Report unreadable rows through `onBadRow` instead of throwing. Default false. */
  skipBadRows?: boolean;
  onBadRow?: (bad: UnreadableRow) => void;
  /** Split of a `DatasetDict` folder. Default `train`. */
  split?: string;
}

/** Where a dataset's rows are and how they are stored. */
export interface ResolvedDataset {
  format: DatasetFormat;
  /** Files holding the rows, in order. */
  files: string[];
  /** Folder that relative media paths in rows are relative to: the folder given, or the file's folder. */
  baseDir: string;
}

const FOLDER_FILES = ['train.jsonl', 'train.json', 'data.jsonl', 'data.json'];

async function readJsonFile<T>(file: string): Promise<T> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as T;
  } catch (e) {
    throw new Error(`${file}: ${(e as Error).message}`);
  }
}

/** Finds the files of a dataset path and its layout, without reading rows. */
export async function resolveDataset(p: string, opts: { split?: string } = {}): Promise<ResolvedDataset> {
  if (!existsSync(p)) throw new Error(`dataset not found: ${p}`);
  const abs = path.resolve(p);
  if (!statSync(abs).isDirectory()) {
    const ext = path.extname(abs).toLowerCase();
    const format: DatasetFormat | null = ext === '.json' ? 'json' : ext === '.jsonl' || ext === '.ndjson' ? 'jsonl' : ext === '.arrow' ? 'arrow-files' : null;
    if (!format) throw new Error(`${abs}: unknown dataset file type "${ext}" (expected .json, .jsonl or .arrow)`);
    return { format, files: [abs], baseDir: path.dirname(abs) };
  }
  if (existsSync(path.join(abs, 'dataset_dict.json'))) {
    const dict = await readJsonFile<{ splits?: unknown }>(path.join(abs, 'dataset_dict.json'));
    const splits = Array.isArray(dict.splits) ? dict.splits.map(String) : [];
    const split = opts.split ?? 'train';
    if (!splits.includes(split)) throw new Error(`${abs}: DatasetDict has no "${split}" split (splits: ${splits.join(', ') || 'none'})`);
    const inner = await resolveDataset(path.join(abs, split));
    return { ...inner, format: 'hf-dataset-dict', baseDir: abs };
  }
  if (existsSync(path.join(abs, 'state.json'))) {
    const state = await readJsonFile<{ _data_files?: { filename?: unknown }[]; _indices_data_files?: unknown[] }>(path.join(abs, 'state.json'));
    if (!Array.isArray(state._data_files)) throw new Error(`${abs}/state.json: no "_data_files" list (not a datasets save_to_disk folder?)`);
    if (Array.isArray(state._indices_data_files) && state._indices_data_files.length) {
      // datasets 1.x could save a row-selection mapping next to the data; reading shards alone would give wrong rows.
      throw new Error(`${abs}: saved with an indices mapping (datasets 1.x); re-save it with dataset.flatten_indices().save_to_disk(...)`);
    }
    const files = state._data_files.map((f, i) => {
      if (typeof f?.filename !== 'string') throw new Error(`${abs}/state.json: _data_files[${i}].filename must be a string`);
      const file = path.join(abs, f.filename);
      if (!existsSync(file)) throw new Error(`${abs}/state.json lists ${f.filename}, which is missing`);
      return file;
    });
    return { format: 'hf-dataset', files, baseDir: abs };
  }
  const names = (await readdir(abs)).sort();
  const arrows = names.filter((n) => n.endsWith('.arrow'));
  if (arrows.length) return { format: 'arrow-files', files: arrows.map((n) => path.join(abs, n)), baseDir: abs };
  const file = FOLDER_FILES.find((n) => names.includes(n));
  if (file) return { ...(await resolveDataset(path.join(abs, file))), baseDir: abs };
  throw new Error(
    `${abs}: not a dataset folder (expected state.json or dataset_dict.json from datasets' save_to_disk, *.arrow files, ` +
      `or one of ${FOLDER_FILES.join(', ')})`,
  );
}

async function* rowsOfJson(items: AsyncIterable<JsonItem>, file: string): AsyncGenerator<{ row: unknown; source: string; error?: string }> {
  for await (const item of items) {
    const source = `${file}:${item.line}`;
    if ('error' in item) yield { row: null, source, error: `malformed JSON: ${item.error}` };
    else yield { row: item.value, source };
  }
}

async function* rowsOfArrow(file: string): AsyncGenerator<{ row: unknown; source: string; error?: string }> {
  let n = 0;
  let reader;
  try {
    reader = await RecordBatchReader.from(createReadStream(file));
    for await (const batch of reader) {
      for (const row of rowsFromRecordBatch(batch)) yield { row, source: `${file}#${n++}` };
    }
  } catch (e) {
    throw new Error(`${file}: cannot read Arrow data: ${(e as Error).message}`);
  }
}

/**
 * Streams the rows of a dataset (see the module comment for layouts). A malformed JSONL line or JSON element,
 * or a row that is not an object, throws an error naming `file:line` — or, with `skipBadRows`, is passed to
 * `onBadRow` and skipped.
 */
export async function* readDatasetRows(p: string, opts: ReadDatasetOptions = {}): AsyncGenerator<DatasetRow> {
  const ds = await resolveDataset(p, opts);
  let index = 0;
  for (const file of ds.files) {
    const src =
      ds.format === 'json' ? rowsOfJson(readJsonArray(file), file) : ds.format === 'jsonl' ? rowsOfJson(readJsonLines(file), file) : rowsOfArrow(file);
    for await (const { row, source, error } of src) {
      const message = error ?? (row === null || typeof row !== 'object' || Array.isArray(row) ? `row must be a JSON object, got ${Array.isArray(row) ? 'an array' : JSON.stringify(row)}` : null);
      if (message !== null) {
        if (!opts.skipBadRows) throw new Error(`${source}: ${message}`);
        opts.onBadRow?.({ index, source, message });
      } else {
        yield { row: row as PlainRow, index, source };
      }
      index++;
    }
  }
}

/** A whole dataset in memory: rows, layout, files, base folder for relative paths, and skipped rows. */
export interface LoadedDataset extends ResolvedDataset {
  rows: PlainRow[];
  /** `rows[i]`'s index in the dataset (differs from i once unreadable rows were skipped). */
  indices: number[];
  sources: string[];
  unreadable: UnreadableRow[];
}

/** Reads every row of a dataset (see `readDatasetRows`). */
export async function readDataset(p: string, opts: ReadDatasetOptions = {}): Promise<LoadedDataset> {
  const ds = await resolveDataset(p, opts);
  const unreadable: UnreadableRow[] = [];
  const rows: PlainRow[] = [];
  const indices: number[] = [];
  const sources: string[] = [];
  const onBadRow = (b: UnreadableRow) => {
    unreadable.push(b);
    opts.onBadRow?.(b);
  };
  for await (const r of readDatasetRows(p, { ...opts, onBadRow })) {
    rows.push(r.row);
    indices.push(r.index);
    sources.push(r.source);
  }
  return { ...ds, rows, indices, sources, unreadable };
}

/**
 * Resolves a relative media path from a row against the dataset's base folder; URLs, `data:` URLs and
 * absolute paths are returned unchanged.
 */
export function resolveMediaPath(item: string, baseDir: string): string {
  if (/^[a-z][a-z0-9+.-]*:/i.test(item) && !/^[a-z]:[\\/]/i.test(item)) return item; // http:, data:, file: …
  return path.isAbsolute(item) ? item : path.join(baseDir, item);
}
