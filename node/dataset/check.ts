/**
 * `multi-token dataset check`: reads a dataset, validates every row as the trainer will (`validateRows`), checks
 * that media files exist, and reports counts per modality. Bad rows are listed with their reasons; the command
 * exits with 1 when there are any, so it can gate a training script.
 */
import { existsSync } from 'node:fs';
import {
  describeBadRow,
  inferModalityKeys,
  modalityKeysForBuilder,
  validateRows,
  type BadRow,
  type ModalityKeys,
} from '../../src/data/validate.js';
import { readDataset, resolveMediaPath, type LoadedDataset } from './read-dataset.js';
import { readQuestionTypes } from './question-types.js';
import { maxOf } from '../../src/util/arrays.js';

export interface CheckOptions {
  path: string;
  /** Validate against this builder's modalities; default: guessed from the data keys the rows use. */
  modalityBuilder?: string;
  /** Explicit modalities (overrides `modalityBuilder`), e.g. a custom modality's token and data key. */
  modalities?: ModalityKeys[];
  split?: string;
  /** Check that local media files exist (resolved against the dataset folder). Default true. */
  checkFiles?: boolean;
}

export interface ModalityCount extends ModalityKeys {
  /** Rows with at least one item of this modality. */
  rows: number;
  items: number;
  /** Occurrences of the modality token in messages. */
  tokens: number;
}

export interface CheckReport {
  path: string;
  format: string;
  baseDir: string;
  /** Rows in the dataset, unreadable ones included. */
  rows: number;
  goodRows: number;
  modalities: ModalityCount[];
  /** Per-row averages over readable rows. */
  avgMessages: number;
  avgUserTurns: number;
  avgAssistantTurns: number;
  /** Rows per question type (from the dataset folder's meta.jsonl); empty when there is none. */
  questionTypes: Record<string, number>;
  bad: BadRow[];
  /** The split this report is about, when the dataset has several. */
  split?: string;
}

/** Data keys whose items are files (documents are inline text, vectors are numbers). */
export const FILE_KEYS = new Set(['images', 'videos', 'speech_audios', 'sounds']);

function countToken(text: string, token: string): number {
  return text.split(token).length - 1;
}

/** Validates and counts a dataset (see the module comment). */
export async function checkDataset(opts: CheckOptions): Promise<CheckReport> {
  return checkLoaded(await readDataset(opts.path, { skipBadRows: true, split: opts.split }), opts);
}

/** `checkDataset` on rows already read (with `skipBadRows`), so callers that need the rows read them once. */
export async function checkLoaded(ds: LoadedDataset, opts: CheckOptions): Promise<CheckReport> {
  const types = await readQuestionTypes(opts.path);
  const questionTypes: Record<string, number> = {};
  const modalities = opts.modalities ?? (opts.modalityBuilder ? modalityKeysForBuilder(opts.modalityBuilder) : inferModalityKeys(ds.rows));
  const bad: BadRow[] = ds.unreadable.map((u) => ({ id: u.source, index: u.index, message: u.message }));
  // Validate with each row's dataset index so messages agree with the file even after unreadable rows.
  const { bad: invalid } = validateRows(ds.rows, modalities, { skipBadRows: true });
  for (const b of invalid) bad.push({ ...b, index: ds.indices[b.index], id: b.id.startsWith('#') ? `#${ds.indices[b.index]}` : b.id });
  const invalidAt = new Set(invalid.map((b) => b.index));

  const counts: ModalityCount[] = modalities.map((m) => ({ ...m, rows: 0, items: 0, tokens: 0 }));
  let messages = 0;
  let user = 0;
  let assistant = 0;
  ds.rows.forEach((row, i) => {
    const qt = types.get(row.id !== undefined && row.id !== null ? String(row.id) : `#${ds.indices[i]}`);
    if (qt !== undefined) questionTypes[qt] = (questionTypes[qt] ?? 0) + 1;
    const msgs = Array.isArray(row.messages) ? (row.messages as { role?: unknown; content?: unknown }[]) : [];
    messages += msgs.length;
    user += msgs.filter((m) => m?.role === 'user').length;
    assistant += msgs.filter((m) => m?.role === 'assistant').length;
    for (const c of counts) {
      const items = Array.isArray(row[c.dataKey]) ? (row[c.dataKey] as unknown[]) : [];
      if (items.length) c.rows++;
      c.items += items.length;
      for (const m of msgs) if (typeof m?.content === 'string') c.tokens += countToken(m.content, c.token);
      if ((opts.checkFiles ?? true) && FILE_KEYS.has(c.dataKey) && !invalidAt.has(i)) {
        const missing = items.findIndex((it) => typeof it === 'string' && !it.startsWith('data:') && !/^https?:/i.test(it) && !existsSync(resolveMediaPath(it, ds.baseDir)));
        if (missing !== -1) {
          const id = row.id !== undefined && row.id !== null ? String(row.id) : `#${ds.indices[i]}`;
          bad.push({ id, index: ds.indices[i], message: `${c.dataKey}[${missing}]: file not found: ${resolveMediaPath(items[missing] as string, ds.baseDir)}` });
        }
      }
    }
  });
  bad.sort((a, b) => a.index - b.index);
  const n = Math.max(1, ds.rows.length);
  return {
    path: opts.path,
    format: ds.format,
    baseDir: ds.baseDir,
    rows: ds.rows.length + ds.unreadable.length,
    goodRows: ds.rows.length + ds.unreadable.length - new Set(bad.map((b) => b.index)).size,
    modalities: counts,
    avgMessages: messages / n,
    avgUserTurns: user / n,
    avgAssistantTurns: assistant / n,
    questionTypes,
    bad,
  };
}

function table(rows: string[][]): string[] {
  const widths = rows[0].map((_, c) => maxOf(rows.map((r) => r[c].length)));
  return rows.map((r) => r.map((cell, c) => (c === 0 || c === 1 || c === 2 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ').trimEnd());
}

/** The report as printed by `dataset check`: summary, per-modality table, turns, bad rows (first `maxBad`). */
export function formatCheckReport(r: CheckReport, maxBad = 20): string[] {
  const lines = [`${r.split !== undefined ? `[${r.split}] ` : ''}${r.path}: ${r.format}, ${r.rows} rows, ${r.goodRows} valid, ${r.bad.length ? `${new Set(r.bad.map((b) => b.index)).size} bad` : 'none bad'}`];
  if (r.modalities.length) {
    lines.push(
      ...table([
        ['modality', 'token', 'data key', 'rows', 'items', 'tokens'],
        ...r.modalities.map((m) => [m.name, m.token, m.dataKey, String(m.rows), String(m.items), String(m.tokens)]),
      ]),
    );
  } else {
    lines.push('no modality items (text-only rows); pass --modality_builder to check against a model\'s modalities');
  }
  lines.push(`turns per row: ${r.avgUserTurns.toFixed(2)} user, ${r.avgAssistantTurns.toFixed(2)} assistant (${r.avgMessages.toFixed(2)} messages)`);
  const types = Object.entries(r.questionTypes).sort(([a], [b]) => a.localeCompare(b));
  if (types.length) lines.push(`question types: ${types.map(([t, c]) => `${t} ${c}`).join(', ')}`);
  if (r.bad.length) {
    lines.push(`rows failing validation:`);
    for (const b of r.bad.slice(0, maxBad)) lines.push(`  ${describeBadRow(b)}`);
    if (r.bad.length > maxBad) lines.push(`  … and ${r.bad.length - maxBad} more`);
  }
  return lines;
}
