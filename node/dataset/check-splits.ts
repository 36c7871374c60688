/**
 * `dataset check` over a whole dataset: every split it finds (train, test, validation, … — see `listSplits`),
 * each validated and counted per modality and question type, then every pair of splits compared for overlap
 * (identical rows, identical item files).
 */
import { checkLoaded, FILE_KEYS, formatCheckReport, type CheckOptions, type CheckReport } from './check.js';
import { findOverlap, formatOverlap, type SplitOverlap } from './overlap.js';
import { readDataset } from './read-dataset.js';
import { listSplits } from './splits.js';

export interface SplitsReport {
  splits: CheckReport[];
  overlap: SplitOverlap[];
}

/** Checks every split of `opts.path` (or only `opts.split` when given). */
export async function checkDatasetSplits(opts: CheckOptions): Promise<SplitsReport> {
  let refs = await listSplits(opts.path);
  if (opts.split !== undefined) {
    const only = refs.filter((r) => r.name === opts.split);
    // A DatasetDict names its splits itself; for anything else, --split selects among the files found.
    if (!only.length) throw new Error(`${opts.path}: no "${opts.split}" split (splits: ${refs.map((r) => r.name).join(', ')})`);
    refs = only;
  }
  const several = refs.length > 1;
  const splits: CheckReport[] = [];
  const rows = [];
  for (const ref of refs) {
    const ds = await readDataset(ref.path, { skipBadRows: true, split: ref.split });
    const report = await checkLoaded(ds, { ...opts, path: ref.path, split: ref.split });
    if (several) report.split = ref.name;
    splits.push(report);
    const dataKeys = report.modalities.map((m) => m.dataKey);
    rows.push({ name: ref.name, rows: ds.rows, baseDir: ds.baseDir, dataKeys, fileKeys: dataKeys.filter((k) => FILE_KEYS.has(k)) });
  }
  return { splits, overlap: findOverlap(rows) };
}

/** Each split's report, then the overlap lines. */
export function formatSplitsReport(r: SplitsReport, maxBad = 20): string[] {
  return [...r.splits.flatMap((s) => formatCheckReport(s, maxBad)), ...formatOverlap(r.overlap)];
}
