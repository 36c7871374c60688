/**
 * Up-front dataset validation: every row is checked before training starts, so a bad row is reported by id
 * at once instead of surfacing (or, as in the seed, being silently replaced by the next row) mid-epoch.
 * Shared by the trainer (`--skip_bad_rows`) and `multi-token dataset check`.
 */
import { validateChatRow, type ChatRow } from '../chat/encode-chat.js';
import type { Modality } from '../modality/modality.js';

/** The part of a modality that validation needs: which token marks it and which row key lists its items. */
export interface ModalityKeys {
  name: string;
  token: string;
  dataKey: string;
}

/** One row that failed validation. `id` is the row's id, or `#<index>` when it has none. */
export interface BadRow {
  id: string;
  index: number;
  message: string;
}

export interface ValidateRowsOptions {
  /** Return bad rows instead of throwing. Default false: any bad row throws a `DatasetValidationError`. */
  skipBadRows?: boolean;
  /** Reject rows with no assistant message (nothing to learn from). Default true, as training needs one. */
  requireAssistant?: boolean;
  /** Index of `rows[0]` in the whole dataset, for `#index` ids and `BadRow.index`. Default 0. */
  indexOffset?: number;
}

/** Thrown by `validateRows` without `skipBadRows`; lists the first bad rows and carries all of them. */
export class DatasetValidationError extends Error {
  constructor(readonly bad: BadRow[]) {
    const shown = bad.slice(0, 10).map((b) => `  ${describeBadRow(b)}`);
    const more = bad.length > shown.length ? [`  … and ${bad.length - shown.length} more`] : [];
    super(
      `${bad.length} dataset row(s) failed validation (pass --skip_bad_rows to skip them):\n` + [...shown, ...more].join('\n'),
    );
    this.name = 'DatasetValidationError';
  }
}

/** `row "abc" (#3): message` — one line per bad row for reports. */
export function describeBadRow(b: BadRow): string {
  const where = b.id === `#${b.index}` ? b.id : `${JSON.stringify(b.id)} (#${b.index})`;
  return `row ${where}: ${b.message}`;
}

/**
 * Token and data key of each built-in modality builder (the seed's `MODALITY_BUILDERS` plus ours), so a
 * dataset can be checked against a builder without loading its encoder. Keep in step with the families'
 * `src/modality/<family>/register.ts`.
 */
export const BUILDER_MODALITY_KEYS: Record<string, ModalityKeys[]> = {
  vision_clip: [{ name: 'vision_clip', token: '<image>', dataKey: 'images' }],
  vision_clip_pool: [{ name: 'vision_clip', token: '<image>', dataKey: 'images' }],
  video_clip: [{ name: 'video_clip', token: '<video>', dataKey: 'videos' }],
  audio_whisper: [{ name: 'audio_whisper', token: '<speech>', dataKey: 'speech_audios' }],
  audio_clap: [{ name: 'audio_clap', token: '<sound>', dataKey: 'sounds' }],
  document_gte: [{ name: 'document_gte', token: '<document>', dataKey: 'documents' }],
  document_gte_x16: [{ name: 'document_gte', token: '<document>', dataKey: 'documents' }],
  imagebind: [{ name: 'imagebind', token: '<imagebind>', dataKey: 'imagebinds' }],
  vector: [{ name: 'vector', token: '<vector>', dataKey: 'vectors' }],
};

/** The modalities a builder name reads; unknown names list the known ones. */
export function modalityKeysForBuilder(builder: string): ModalityKeys[] {
  const keys = BUILDER_MODALITY_KEYS[builder];
  if (!keys) {
    throw new Error(`unknown modality builder "${builder}" (known: ${Object.keys(BUILDER_MODALITY_KEYS).sort().join(', ')})`);
  }
  return keys;
}

/**
 * Guesses the modalities of a dataset from the data keys its rows use (`images` → `<image>`, …), for
 * `dataset check` without `--modality_builder`. Keys no built-in modality reads are left out, so rows using
 * them fail validation with an "unknown data key" message that says what is read.
 */
export function inferModalityKeys(rows: Iterable<Record<string, unknown>>): ModalityKeys[] {
  const byKey = new Map<string, ModalityKeys>();
  for (const list of Object.values(BUILDER_MODALITY_KEYS)) for (const m of list) if (!byKey.has(m.dataKey)) byKey.set(m.dataKey, m);
  const used = new Set<string>();
  for (const row of rows) {
    if (!row || typeof row !== 'object') continue;
    for (const [k, v] of Object.entries(row)) if (Array.isArray(v) && v.length > 0 && byKey.has(k)) used.add(k);
  }
  return [...used].sort().map((k) => byKey.get(k)!);
}

function rowId(row: unknown, index: number): string {
  const id = row && typeof row === 'object' ? (row as { id?: unknown }).id : undefined;
  return id !== undefined && id !== null ? String(id) : `#${index}`;
}

/**
 * Validates rows against the seed's schema and the given modalities (reusing `validateChatRow`: messages
 * shape, unknown data keys, modality tokens only in user turns, token count = item count), and flags
 * duplicate ids (the later occurrence is the bad one, so the first keeps its place).
 */
export function validateRows<R>(rows: readonly R[], modalities: readonly ModalityKeys[], opts: ValidateRowsOptions = {}): { good: R[]; bad: BadRow[] } {
  const requireAssistant = opts.requireAssistant ?? true;
  const offset = opts.indexOffset ?? 0;
  // validateChatRow reads only `token` and `dataKey` of each modality, so the light descriptors suffice.
  const mods = modalities as unknown as Modality[];
  const firstSeen = new Map<string, number>();
  const good: R[] = [];
  const bad: BadRow[] = [];
  rows.forEach((row, i) => {
    const index = offset + i;
    const id = rowId(row, index);
    let message: string | null = null;
    try {
      validateChatRow(row as unknown as ChatRow, mods, index);
      const messages = (row as unknown as ChatRow).messages;
      if (requireAssistant && !messages.some((m) => m.role === 'assistant')) message = 'no assistant reply to learn from';
    } catch (e) {
      // validateChatRow's RowError already starts with `row "<id>": `; the report adds that itself.
      message = (e as Error).message.replace(/^row "(?:[^"\\]|\\.)*": /, '');
    }
    if (message === null && !id.startsWith('#')) {
      const first = firstSeen.get(id);
      if (first !== undefined) message = `duplicate id (first used by row #${first})`;
      else firstSeen.set(id, index);
    }
    if (message === null) good.push(row);
    else bad.push({ id, index, message });
  });
  if (bad.length > 0 && !opts.skipBadRows) throw new DatasetValidationError(bad);
  return { good, bad };
}
