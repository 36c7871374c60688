/**
 * Training log lines for places without a progress bar (a log file, CI, `nohup`): one line per logging step with
 * everything a person watching needs — where the run is (step/total, fractional epoch), how it is doing (loss,
 * learning rate, gradient norm), how fast (rows/s, tokens/s) and how long (elapsed, ETA). The `key value` pairs
 * use the same names as `train_log.jsonl`, so a line and its JSON record read alike.
 */
import type { EvalLogEntry, LogEntry } from './trainer.js';

/** `37s`, `4m05s`, `2h03m` (ETA precision a person uses). */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** Three significant digits, without exponent for everyday magnitudes. */
function num(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  if (x !== 0 && (Math.abs(x) < 1e-3 || Math.abs(x) >= 1e6)) return x.toExponential(2);
  return x >= 100 ? x.toFixed(0) : x.toPrecision(3);
}

export interface RunShape {
  maxSteps: number;
  /** Epochs the run covers (`max_steps / steps_per_epoch` when max_steps rules). */
  numEpochs: number;
}

/**
 * `step 225/1875 (12%)  epoch 0.36/3  loss 1.2345  learning_rate 4.50e-5  grad_norm 0.812  rows/s 12.3  tokens/s 1234
 *  elapsed 3m05s  eta 22m41s`
 */
export function formatTrainLine(e: LogEntry, run: RunShape): string {
  const pct = Math.floor((100 * e.step) / Math.max(1, run.maxSteps));
  const epochs = Number(run.numEpochs.toFixed(2));
  return [
    `step ${e.step}/${run.maxSteps} (${pct}%)`,
    `epoch ${e.epoch.toFixed(2)}/${epochs}`,
    `loss ${e.loss.toFixed(4)}`,
    `learning_rate ${e.learning_rate.toExponential(2)}`,
    `grad_norm ${num(e.grad_norm)}`,
    `rows/s ${num(e.rows_per_second ?? NaN)}`,
    `tokens/s ${num(e.tokens_per_second)}`,
    `elapsed ${formatDuration(e.elapsed_seconds ?? NaN)}`,
    `eta ${formatDuration(e.eta_seconds ?? NaN)}`,
  ].join('  ');
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

/** A metric as people read it: losses to 4 decimals, accuracies as percentages. */
export function formatMetric(metric: string, value: number): string {
  return metric.includes('exact_match') ? pct(value) : value.toFixed(4);
}

/**
 * `eval step 500/1875  epoch 1.00  eval_loss 0.8123  exact_match 82.3% (1646/2000; colour 95.0%, shape 90.1%)
 *  12.4s (161 rows/s)  best` — one line, the per-type table in brief.
 */
export function formatEvalLine(e: EvalLogEntry, run: RunShape, note = ''): string {
  const parts = [`eval step ${e.step}/${run.maxSteps}`, `epoch ${e.epoch.toFixed(2)}`, `eval_loss ${e.eval_loss.toFixed(4)}`];
  if (e.eval_exact_match !== undefined) {
    const types = Object.entries(e.eval_exact_match_by_type ?? {});
    const correct = types.reduce((s, [, t]) => s + t.correct, 0);
    const brief = types.length > 1 ? `; ${types.map(([k, t]) => `${k} ${pct(t.accuracy)}`).join(', ')}` : '';
    parts.push(`exact_match ${pct(e.eval_exact_match)} (${correct}/${e.eval_samples}${brief})`);
  }
  parts.push(`${e.eval_runtime.toFixed(1)}s (${num(e.eval_samples_per_second)} rows/s)`);
  if (note) parts.push(note);
  return parts.join('  ');
}

export interface RunSummary {
  steps: number;
  wallSeconds: number;
  rowsPerSecond: number;
  /** Peak resident memory, bytes (Node: `process.resourceUsage().maxRSS`), when known. */
  peakBytes?: number;
  /** `metric value` of the best evaluation, the step and where its weights are. */
  best?: { metric: string; value: number; step: number; checkpoint?: string; loadedInto?: string };
  /** Why training ended before max_steps, if it did. */
  stoppedEarly?: string;
}

function bytes(n: number): string {
  return n >= 2 ** 30 ? `${(n / 2 ** 30).toFixed(2)} GB` : `${(n / 2 ** 20).toFixed(0)} MB`;
}

/** The closing lines: wall time, speed, peak memory, and the best metric with where it was saved. */
export function formatSummary(s: RunSummary): string[] {
  const lines = [
    `trained ${s.steps} steps in ${formatDuration(s.wallSeconds)} (${num(s.rowsPerSecond)} rows/s)${s.peakBytes ? `, peak memory ${bytes(s.peakBytes)}` : ''}`,
  ];
  if (s.stoppedEarly) lines.push(`stopped early: ${s.stoppedEarly}`);
  if (s.best) {
    const v = formatMetric(s.best.metric, s.best.value);
    const where = s.best.loadedInto ? `; loaded into ${s.best.loadedInto}` : s.best.checkpoint ? `; saved in ${s.best.checkpoint}` : '';
    lines.push(`best ${s.best.metric} ${v} at step ${s.best.step}${s.best.checkpoint && s.best.loadedInto ? ` (${s.best.checkpoint})` : ''}${where}`);
  }
  return lines;
}
