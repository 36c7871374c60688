import type { EncodedChat } from '../chat/encode-chat.js';
import { IGNORE_INDEX } from '../constants.js';
import { buildSpliceLayout, type SpliceLayout } from '../splice/layout.js';
import { maxOf } from '../util/arrays.js';

/** A padded training batch, ready for `LMM.forward`. */
export interface Batch {
  ids: string[];
  /** `[B][T]` right-padded; placeholder positions hold negative ids. */
  inputIds: number[][];
  labels: number[][];
  attentionMask: number[][];
  layout: SpliceLayout;
  /** `[modality][row][item]` raw items, aligned with the layout's runs. */
  items: unknown[][][];
}

export interface CollateOptions {
  /** model_max_length: longer rows are truncated at a token boundary outside every placeholder run. */
  maxLength: number;
  padTokenId: number;
  tokenWidths: number[];
  /**
   * What to do with a row whose cut would split a placeholder run, or that keeps no label after truncation:
   * 'skip' (reported in `skipped`) or 'error'. Default 'skip'.
   */
  onBadTruncation?: 'skip' | 'error';
}

/** Cuts one row to `maxLength`; returns null with a reason when it can't be cut cleanly. */
export function truncateRow(row: EncodedChat, maxLength: number): { row: EncodedChat } | { reason: string } {
  if (row.inputIds.length <= maxLength) return { row };
  const split = row.runs.find((r) => r.start < maxLength && r.start + r.width > maxLength);
  if (split) {
    return {
      reason: `truncating to model_max_length ${maxLength} would cut placeholder run [${split.start}, ${split.start + split.width}) in two`,
    };
  }
  const labels = row.labels.slice(0, maxLength);
  if (labels.slice(1).every((l) => l === IGNORE_INDEX)) {
    return { reason: `no assistant tokens left after truncating ${row.inputIds.length} tokens to model_max_length ${maxLength}` };
  }
  const runs = row.runs.filter((r) => r.start + r.width <= maxLength);
  const kept = row.items.map((items, m) => items.slice(0, runs.filter((r) => r.modality === m).length));
  return { row: { ...row, inputIds: row.inputIds.slice(0, maxLength), labels, runs, items: kept } };
}

/**
 * Right-pads encoded rows into a batch with attention mask, labels (IGNORE_INDEX on padding) and the splice
 * layout. Rows that cannot be truncated cleanly are skipped (reported) or rejected, as the caller chooses.
 */
export function collate(rows: EncodedChat[], opts: CollateOptions): { batch: Batch | null; skipped: { id: string; reason: string }[] } {
  const skipped: { id: string; reason: string }[] = [];
  const kept: EncodedChat[] = [];
  for (const r of rows) {
    const t = truncateRow(r, opts.maxLength);
    if ('row' in t) {
      kept.push(t.row);
      continue;
    }
    if (opts.onBadTruncation === 'error') throw new Error(`row ${JSON.stringify(r.id)}: ${t.reason}`);
    skipped.push({ id: r.id, reason: t.reason });
  }
  if (kept.length === 0) return { batch: null, skipped };
  const T = maxOf(kept.map((r) => r.inputIds.length));
  const pad = <X>(a: X[], v: X) => [...a, ...new Array<X>(T - a.length).fill(v)];
  const layout = buildSpliceLayout(
    kept.map((r) => ({ inputIds: r.inputIds, runs: r.runs })),
    opts.tokenWidths,
    T,
    opts.padTokenId,
  );
  const batch: Batch = {
    ids: kept.map((r) => r.id),
    inputIds: kept.map((r) => pad(r.inputIds, opts.padTokenId)),
    labels: kept.map((r) => pad(r.labels, IGNORE_INDEX)),
    attentionMask: kept.map((r) => pad(r.inputIds.map(() => 1), 0)),
    layout,
    items: opts.tokenWidths.map((_, m) => kept.map((r) => r.items[m] ?? [])),
  };
  return { batch, skipped };
}
