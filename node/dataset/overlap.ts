/**
 * Overlap between dataset splits, the leak that makes held-out accuracy lie: identical rows (same conversation
 * and same items, ids ignored) and identical item files (same bytes, whatever their names). File items are
 * compared by a hash of their contents, inline items (vectors, documents, data URLs) by their JSON.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { resolveMediaPath } from './read-dataset.js';

export interface SplitRows {
  name: string;
  rows: Record<string, unknown>[];
  baseDir: string;
  /** Data keys whose items are files to compare by content (images, audio, video). */
  fileKeys: string[];
  /** Every modality data key the rows use. */
  dataKeys: string[];
}

export interface SplitOverlap {
  a: string;
  b: string;
  /** Rows of `a` identical to a row of `b`. */
  identicalRows: number;
  /** Examples: `[idInA, idInB]`. */
  rowExamples: [string, string][];
  /** Distinct item contents present in both splits. */
  sharedItems: number;
  /** Examples: `[itemInA, itemInB]` as written in the rows. */
  itemExamples: [string, string][];
}

const EXAMPLES = 3;

const sha1 = (bytes: Uint8Array | string) => createHash('sha1').update(bytes).digest('hex');

/** Hashes item contents, reading each file once. */
class ItemHasher {
  private readonly files = new Map<string, string>();

  hash(item: unknown, baseDir: string, isFile: boolean): string {
    if (isFile && typeof item === 'string' && !item.startsWith('data:') && !/^[a-z][a-z0-9+.-]*:\/\//i.test(item)) {
      const p = resolveMediaPath(item, baseDir);
      let h = this.files.get(p);
      if (h === undefined) {
        // A missing file is reported by the row checks; compare it by path so it still can match itself.
        h = existsSync(p) ? `file:${sha1(readFileSync(p))}` : `path:${p}`;
        this.files.set(p, h);
      }
      return h;
    }
    return `json:${sha1(JSON.stringify(item))}`;
  }
}

function rowId(row: Record<string, unknown>, i: number): string {
  return row.id !== undefined && row.id !== null ? String(row.id) : `#${i}`;
}

interface Fingerprints {
  rows: Map<string, string>;
  items: Map<string, string>;
}

function fingerprints(s: SplitRows, hasher: ItemHasher): Fingerprints {
  const rows = new Map<string, string>();
  const items = new Map<string, string>();
  s.rows.forEach((row, i) => {
    const keyed: Record<string, string[]> = {};
    for (const key of s.dataKeys) {
      const list = Array.isArray(row[key]) ? (row[key] as unknown[]) : [];
      keyed[key] = list.map((it) => {
        const h = hasher.hash(it, s.baseDir, s.fileKeys.includes(key));
        if (!items.has(h)) items.set(h, typeof it === 'string' ? (it.length > 80 ? `${it.slice(0, 77)}…` : it) : `${key} item of row ${rowId(row, i)}`);
        return h;
      });
    }
    const fp = sha1(JSON.stringify({ messages: row.messages, items: keyed }));
    if (!rows.has(fp)) rows.set(fp, rowId(row, i));
  });
  return { rows, items };
}

/** Compares every pair of splits. Pairs without overlap are included with zero counts. */
export function findOverlap(splits: SplitRows[]): SplitOverlap[] {
  const hasher = new ItemHasher();
  const fps = splits.map((s) => fingerprints(s, hasher));
  const out: SplitOverlap[] = [];
  for (let i = 0; i < splits.length; i++) {
    for (let j = i + 1; j < splits.length; j++) {
      const o: SplitOverlap = { a: splits[i].name, b: splits[j].name, identicalRows: 0, rowExamples: [], sharedItems: 0, itemExamples: [] };
      for (const [fp, id] of fps[i].rows) {
        const other = fps[j].rows.get(fp);
        if (other === undefined) continue;
        o.identicalRows++;
        if (o.rowExamples.length < EXAMPLES) o.rowExamples.push([id, other]);
      }
      for (const [h, name] of fps[i].items) {
        const other = fps[j].items.get(h);
        if (other === undefined) continue;
        o.sharedItems++;
        if (o.itemExamples.length < EXAMPLES) o.itemExamples.push([name, other]);
      }
      out.push(o);
    }
  }
  return out;
}

/** One line per overlapping pair, or one line saying there is none. */
export function formatOverlap(overlaps: SplitOverlap[]): string[] {
  if (overlaps.length === 0) return [];
  const bad = overlaps.filter((o) => o.identicalRows || o.sharedItems);
  if (!bad.length) return [`no overlap between splits (${overlaps.map((o) => `${o.a}/${o.b}`).join(', ')}: rows and item files compared)`];
  return bad.map((o) => {
    const parts: string[] = [];
    if (o.identicalRows) parts.push(`${o.identicalRows} identical row(s) (e.g. ${o.rowExamples.map(([x, y]) => `"${x}" = "${y}"`).join(', ')})`);
    if (o.sharedItems) parts.push(`${o.sharedItems} identical item(s) (e.g. ${o.itemExamples.map(([x, y]) => (x === y ? x : `${x} = ${y}`)).join(', ')})`);
    return `warning: overlap between ${o.a} and ${o.b}: ${parts.join('; ')}`;
  });
}
