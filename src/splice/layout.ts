/**
 * The placeholder layout: for every position of a padded batch, where its input embedding comes from — a row
 * of the token embedding table (text) or a row of the projected modality matrix (a placeholder). Built once on
 * the CPU from `encodeChat`'s runs, consumed by `spliceEmbeddings` / `mergeEmbeddings` and the WGSL kernel.
 *
 * The projected matrix is every modality's projector output flattened to rows and concatenated in a fixed
 * order: modality, then batch row, then instance, then offset within the instance's `tokenWidth` run.
 * Runs are explicit (start, width), so adjacent runs (`<image><image>`) need no special case, unlike the
 * seed's conv-based detection.
 */

/** One modality item's placeholder run in a tokenised row. */
export interface PlaceholderRun {
  /** Index of the modality in the model's modality list. */
  modality: number;
  /** Which item of that modality in this row (0-based, in text order). */
  instance: number;
  /** First position of the run. */
  start: number;
  /** Run length (the modality's tokenWidth). */
  width: number;
}

export interface SpliceLayout {
  batchSize: number;
  seqLen: number;
  /** `[B·T]` token id at text positions; 0 at placeholders (any valid row: it is overwritten). */
  tokenIds: Int32Array;
  /** `[B·T]` row of the projected matrix for placeholder positions; -1 at text positions. */
  sourceRows: Int32Array;
  /** Rows the projected matrix must have. */
  numProjectedRows: number;
  /** `[modality][row]` items expected per modality and row (for shape checks). */
  itemCounts: number[][];
}

export interface LayoutRow {
  /** Token ids; placeholder positions may hold anything (negative by convention). Length ≤ seqLen. */
  inputIds: number[];
  runs: PlaceholderRun[];
}

/**
 * Builds the layout for a batch. `tokenWidths[m]` is modality m's run width; `seqLen` defaults to the
 * longest row (shorter rows are right-padded with `padId`, the collator's convention).
 */
export function buildSpliceLayout(rows: LayoutRow[], tokenWidths: number[], seqLen?: number, padId = 0): SpliceLayout {
  const B = rows.length;
  const T = seqLen ?? Math.max(0, ...rows.map((r) => r.inputIds.length));
  const M = tokenWidths.length;
  const itemCounts = Array.from({ length: M }, () => new Array<number>(B).fill(0));
  for (let b = 0; b < B; b++) {
    if (rows[b].inputIds.length > T) throw new Error(`row ${b} has ${rows[b].inputIds.length} tokens > seqLen ${T}`);
    for (const run of rows[b].runs) {
      if (run.modality < 0 || run.modality >= M) throw new Error(`row ${b}: run refers to unknown modality ${run.modality}`);
      if (run.width !== tokenWidths[run.modality]) {
        throw new Error(`row ${b}: run width ${run.width} != tokenWidth ${tokenWidths[run.modality]} of modality ${run.modality}`);
      }
      if (run.start < 0 || run.start + run.width > rows[b].inputIds.length) {
        throw new Error(`row ${b}: run [${run.start}, ${run.start + run.width}) is outside the row`);
      }
      itemCounts[run.modality][b] = Math.max(itemCounts[run.modality][b], run.instance + 1);
    }
  }
  // base[m][b] = first projected row of modality m, batch row b.
  const base: number[][] = [];
  let total = 0;
  for (let m = 0; m < M; m++) {
    base.push([]);
    for (let b = 0; b < B; b++) {
      base[m].push(total);
      total += itemCounts[m][b] * tokenWidths[m];
    }
  }
  const tokenIds = new Int32Array(B * T).fill(padId);
  const sourceRows = new Int32Array(B * T).fill(-1);
  for (let b = 0; b < B; b++) {
    const ids = rows[b].inputIds;
    for (let t = 0; t < ids.length; t++) tokenIds[b * T + t] = ids[t] >= 0 ? ids[t] : 0;
    for (const run of rows[b].runs) {
      for (let o = 0; o < run.width; o++) {
        const p = b * T + run.start + o;
        if (sourceRows[p] !== -1) throw new Error(`row ${b}: placeholder runs overlap at position ${run.start + o}`);
        sourceRows[p] = base[run.modality][b] + run.instance * run.width + o;
        tokenIds[p] = 0;
      }
    }
  }
  return { batchSize: B, seqLen: T, tokenIds, sourceRows, numProjectedRows: total, itemCounts };
}
