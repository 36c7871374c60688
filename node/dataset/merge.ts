/**
 * `multi-token dataset merge`: concatenates datasets and shuffles them, like the seed's
 * `scripts/merge_datasets.py` (`concatenate_datasets` + `shuffle` + `save_to_disk`), with what that script
 * leaves to chance made explicit:
 * - the shuffle is seeded (`--seed`), so a merge is reproducible;
 * - column types must agree across inputs (an error names the column and both inputs); a column missing
 *   from some inputs is filled with `[]` there, and reported;
 * - ids that collide get a `-2`, `-3`, … suffix, reported;
 * - relative media paths are rewritten so they still point at their files from the output folder.
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { Rng } from '../../src/util/rng.js';
import type { PlainRow } from '../../src/data/arrow-rows.js';
import { readDataset } from './read-dataset.js';
import { writeDataset, type OutputFormat } from './write-dataset.js';

export interface MergeOptions {
  inputs: string[];
  out: string;
  /** Shuffle seed. Default 42. */
  seed?: number;
  /** Default true, as the seed's script. */
  shuffle?: boolean;
  format?: OutputFormat;
}

export interface MergeReport {
  out: string;
  inputs: { path: string; format: string; rows: number }[];
  rows: number;
  renamedIds: { count: number; examples: string[] };
  pathsRewritten: number;
  notes: string[];
}

/** A short type signature of a value, for schema compatibility checks (null when it says nothing). */
function kindOf(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  if (Array.isArray(v)) {
    const inner = v.map(kindOf).find((k) => k !== null);
    return inner === undefined ? null : `list<${inner}>`;
  }
  if (v instanceof Uint8Array) return 'bytes';
  if (typeof v === 'object') return `struct<${Object.keys(v).sort().join(',')}>`;
  return typeof v;
}

function columnKinds(rows: PlainRow[]): Map<string, string | null> {
  const kinds = new Map<string, string | null>();
  for (const row of rows) {
    for (const [k, v] of Object.entries(row)) if (!kinds.get(k)) kinds.set(k, kindOf(v));
  }
  return kinds;
}

/** Where a relative media path from `baseDir` should point from `outDir`; null when it is not a local file. */
function rebase(item: string, baseDir: string, outDir: string): string | null {
  if (path.isAbsolute(item) || /^[a-z][a-z0-9+.-]*:/i.test(item) || item.includes('\n')) return null;
  const abs = path.resolve(baseDir, item);
  if (!existsSync(abs)) return null; // not a file (e.g. a document's inline text)
  const rel = path.relative(outDir, abs);
  return rel.startsWith('..') || path.isAbsolute(rel) ? abs : rel.split(path.sep).join('/');
}

/** Merges datasets (see the module comment) and writes the result to `opts.out`. */
export async function mergeDatasets(opts: MergeOptions): Promise<MergeReport> {
  if (opts.inputs.length === 0) throw new Error('dataset merge: give at least one input dataset');
  const outDir = path.resolve(opts.out);
  const report: MergeReport = { out: outDir, inputs: [], rows: 0, renamedIds: { count: 0, examples: [] }, pathsRewritten: 0, notes: [] };
  const loaded = [];
  for (const p of opts.inputs) {
    const ds = await readDataset(p);
    loaded.push({ path: p, ds, kinds: columnKinds(ds.rows) });
    report.inputs.push({ path: p, format: ds.format, rows: ds.rows.length });
  }

  // Schema compatibility: one type per column across inputs.
  const columns = new Map<string, { kind: string | null; from: string }>();
  for (const { path: p, kinds } of loaded) {
    if (!kinds.has('messages')) throw new Error(`dataset merge: ${p} has no "messages" column (not in the seed's schema)`);
    for (const [k, kind] of kinds) {
      const seen = columns.get(k);
      if (seen && seen.kind && kind && seen.kind !== kind) {
        throw new Error(`dataset merge: column "${k}" is ${seen.kind} in ${seen.from} but ${kind} in ${p}`);
      }
      if (!seen || (!seen.kind && kind)) columns.set(k, { kind, from: p });
    }
  }
  for (const { path: p, kinds } of loaded) {
    const missing = [...columns.keys()].filter((k) => !kinds.has(k));
    if (missing.length) report.notes.push(`${p} has no ${missing.map((k) => `"${k}"`).join(', ')} column(s); its rows get an empty list there`);
  }

  const rows: PlainRow[] = [];
  const ids = new Set<string>();
  for (const { ds } of loaded) {
    for (const original of ds.rows) {
      const row: PlainRow = { ...original };
      for (const [k, { kind }] of columns) {
        if (!(k in row) || row[k] === null || row[k] === undefined) {
          if (kind?.startsWith('list<') || kind === null) row[k] = [];
          continue;
        }
        if (k === 'messages' || !Array.isArray(row[k]) || ds.baseDir === outDir) continue;
        row[k] = (row[k] as unknown[]).map((item) => {
          const moved = typeof item === 'string' ? rebase(item, ds.baseDir, outDir) : null;
          if (moved === null || moved === item) return item;
          report.pathsRewritten++;
          return moved;
        });
      }
      if (row.id !== undefined && row.id !== null) {
        const base = String(row.id);
        let id = base;
        for (let k = 2; ids.has(id); k++) id = `${base}-${k}`;
        if (id !== base) {
          report.renamedIds.count++;
          if (report.renamedIds.examples.length < 5) report.renamedIds.examples.push(`${base} → ${id}`);
          row.id = id;
        }
        ids.add(id);
      }
      rows.push(row);
    }
  }
  if (opts.shuffle ?? true) {
    const rng = new Rng(opts.seed ?? 42);
    for (let i = rows.length - 1; i > 0; i--) {
      const j = Math.floor(rng.next() * (i + 1));
      [rows[i], rows[j]] = [rows[j], rows[i]];
    }
  }
  report.rows = rows.length;
  await writeDataset(outDir, rows, opts.format ?? 'jsonl');
  return report;
}
