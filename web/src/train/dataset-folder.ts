/**
 * A dataset folder picked in the browser, in the project's schema (the seed's): rows `{id, messages, images}`
 * in `train.jsonl` / `train.json` / `data.jsonl` / `data.json` (or the folder's only .json/.jsonl file), or a
 * Hugging Face `save_to_disk` folder (`state.json` + Arrow shards) or bare `*.arrow` shards. Pictures named by
 * relative path are taken from the same folder; nothing is fetched. Rows that cannot be used are reported by
 * id and skipped.
 */
import { RecordBatchReader } from 'apache-arrow';
import { rowsFromRecordBatch, type PlainRow } from '../../../src/data/arrow-rows.js';
import type { ImageInput, TrainExample } from './examples.js';

const ROW_FILES = ['train.jsonl', 'train.json', 'data.jsonl', 'data.json'];

/** What a folder gave: usable examples, and rows skipped with the reason. */
export interface FolderDataset {
  name: string;
  /** The file(s) the rows came from, relative to the folder. */
  files: string[];
  examples: TrainExample[];
  skipped: { id: string; reason: string }[];
}

/** Files of an `<input webkitdirectory>` by path relative to the picked folder. */
function byPath(files: readonly File[]): { name: string; map: Map<string, File> } {
  const map = new Map<string, File>();
  let name = '';
  for (const f of files) {
    const parts = (f.webkitRelativePath || f.name).split('/');
    if (parts.length > 1) name ||= parts[0];
    const rel = parts.length > 1 ? parts.slice(1) : parts;
    if (rel.some((p) => p.startsWith('.'))) continue;
    map.set(rel.join('/'), f);
  }
  return { name: name || 'dataset', map };
}

async function jsonRows(file: File, rel: string): Promise<unknown[]> {
  const text = await file.text();
  if (rel.endsWith('.json')) {
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch (e) {
      throw new Error(`${rel}: malformed JSON: ${(e as Error).message}`);
    }
    if (!Array.isArray(v)) throw new Error(`${rel}: must hold a JSON array of rows`);
    return v;
  }
  return text.split('\n').flatMap((line, i) => {
    if (!line.trim()) return [];
    try {
      return [JSON.parse(line)];
    } catch (e) {
      throw new Error(`${rel}:${i + 1}: malformed JSON: ${(e as Error).message}`);
    }
  });
}

async function arrowRows(file: File, rel: string): Promise<PlainRow[]> {
  try {
    const reader = await RecordBatchReader.from(new Uint8Array(await file.arrayBuffer()));
    const rows: PlainRow[] = [];
    for await (const batch of reader) rows.push(...rowsFromRecordBatch(batch));
    return rows;
  } catch (e) {
    throw new Error(`${rel}: cannot read Arrow data: ${(e as Error).message}`);
  }
}

/** Which files hold the rows. */
async function rowFiles(map: Map<string, File>): Promise<string[]> {
  const state = map.get('state.json');
  if (state) {
    const s = JSON.parse(await state.text()) as { _data_files?: { filename?: string }[] };
    if (!Array.isArray(s._data_files)) throw new Error('state.json: no "_data_files" list (not a datasets save_to_disk folder?)');
    return s._data_files.map((f, i) => {
      if (typeof f?.filename !== 'string' || !map.has(f.filename)) throw new Error(`state.json: _data_files[${i}] names a file that is not in the folder`);
      return f.filename;
    });
  }
  const named = ROW_FILES.find((n) => map.has(n));
  if (named) return [named];
  const top = [...map.keys()].filter((k) => !k.includes('/'));
  const json = top.filter((k) => /\.jsonl?$/.test(k));
  if (json.length === 1) return json;
  const arrows = top.filter((k) => k.endsWith('.arrow')).sort();
  if (arrows.length) return arrows;
  throw new Error(`no rows found: expected ${ROW_FILES.join(', ')}, one .json/.jsonl file, or save_to_disk Arrow files` +
    (json.length > 1 ? ` (found ${json.length} .json/.jsonl files: ${json.join(', ')}; which one?)` : ''));
}

/** A picture named in a row: a path in the folder, a data URL, or bytes (Arrow binary columns). */
function pictureOf(v: unknown, map: Map<string, File>, at: string): File {
  if (v instanceof Uint8Array) return new File([v as Uint8Array<ArrayBuffer>], `${at}.png`);
  if (typeof v !== 'string') throw new Error(`${at} must be a file path, got ${JSON.stringify(v)?.slice(0, 40)}`);
  const data = /^data:([^;,]*)(;base64)?,(.*)$/s.exec(v);
  if (data) {
    const bytes = data[2] ? Uint8Array.from(atob(data[3]), (c) => c.charCodeAt(0)) : new TextEncoder().encode(decodeURIComponent(data[3]));
    return new File([bytes], `${at}.${(data[1].split('/')[1] || 'png')}`, { type: data[1] });
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(v)) {
    throw new Error(`${at} is a URL (${v.slice(0, 60)}); training here reads pictures from the folder only, nothing is fetched`);
  }
  const rel = v.replace(/\\/g, '/').replace(/^\.\//, '');
  const exact = map.get(rel);
  if (exact) return exact;
  // Absolute paths from the machine that wrote the dataset: the one file whose path ends the same way.
  const tail = rel.split('/').filter(Boolean);
  for (let k = Math.min(tail.length, 4); k >= 1; k--) {
    const suffix = tail.slice(-k).join('/');
    const hits = [...map.keys()].filter((p) => p === suffix || p.endsWith(`/${suffix}`));
    if (hits.length === 1) return map.get(hits[0])!;
  }
  throw new Error(`${at}: "${v}" is not in the picked folder`);
}

/**
 * Reads a picked dataset folder. Rows whose items are not pictures for `input`, or whose pictures are
 * missing, are skipped with the reason; an unreadable folder throws.
 */
export async function readDatasetFolder(files: readonly File[], input: ImageInput): Promise<FolderDataset> {
  const { name, map } = byPath(files);
  const sources = await rowFiles(map);
  const raw: unknown[] = [];
  for (const rel of sources) raw.push(...(rel.endsWith('.arrow') ? await arrowRows(map.get(rel)!, rel) : await jsonRows(map.get(rel)!, rel)));
  const out: FolderDataset = { name, files: sources, examples: [], skipped: [] };
  const seen = new Set<string>();
  raw.forEach((r, i) => {
    const row = r as Record<string, unknown> | null;
    const id = row && typeof row === 'object' && row.id != null ? String(row.id) : `#${i}`;
    try {
      if (!row || typeof row !== 'object' || Array.isArray(row)) throw new Error('a row must be a JSON object');
      if (seen.has(id)) throw new Error('duplicate id');
      const messages = row.messages;
      if (!Array.isArray(messages) || !messages.every((m) => m && typeof m.role === 'string' && typeof m.content === 'string')) {
        throw new Error('"messages" must be a list of {role, content}');
      }
      const other = Object.keys(row).filter((k) => !['id', 'messages', input.dataKey].includes(k) && Array.isArray(row[k]) && (row[k] as unknown[]).length);
      if (other.length) throw new Error(`has ${other.join(', ')}, which this panel cannot train on (pictures only)`);
      const items = Array.isArray(row[input.dataKey]) ? (row[input.dataKey] as unknown[]) : [];
      const pictures = items.map((v, k) => pictureOf(v, map, `${input.dataKey}[${k}]`));
      out.examples.push({ id, pictures, qa: null, messages: messages as TrainExample['messages'], origin: name });
      seen.add(id);
    } catch (e) {
      out.skipped.push({ id, reason: (e as Error).message });
    }
  });
  return out;
}
