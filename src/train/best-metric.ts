/**
 * Best-model bookkeeping and early stopping, as the HF Trainer does them: `metric_for_best_model` (default
 * `loss`, i.e. `eval_loss`) with `greater_is_better` (default: true unless the name ends in "loss"), the best
 * value/step/checkpoint kept in the trainer state (`best_metric`, `best_global_step`, `best_model_checkpoint`),
 * and `early_stopping_patience` evaluations without improvement (by more than `threshold`) ending the run.
 */
import type { EvalLogEntry, TrainerState } from './trainer.js';

/** `loss` → `eval_loss`; `eval_exact_match` stays. */
export function metricKey(name: string): string {
  return name.startsWith('eval_') ? name : `eval_${name}`;
}

/** HF's default for `greater_is_better`: false only for losses. */
export function defaultGreaterIsBetter(metric: string): boolean {
  return !metricKey(metric).endsWith('loss');
}

/** The value of `metric` in an evaluation: `eval_loss`, `eval_exact_match`, or `eval_exact_match_<question type>`. */
export function metricValue(e: EvalLogEntry, metric: string): number | undefined {
  const key = metricKey(metric);
  if (key === 'eval_loss') return e.eval_loss;
  if (key === 'eval_exact_match') return e.eval_exact_match;
  const m = /^eval_exact_match_(.+)$/.exec(key);
  if (m) return e.eval_exact_match_by_type?.[m[1]]?.accuracy;
  return undefined;
}

/** Metric names an evaluation offers, for error messages. */
export function availableMetrics(e: EvalLogEntry): string[] {
  const out = ['loss'];
  if (e.eval_exact_match !== undefined) out.push('exact_match', ...Object.keys(e.eval_exact_match_by_type ?? {}).map((t) => `exact_match_${t}`));
  return out;
}

export interface BestMetricOptions {
  metric: string;
  greaterIsBetter?: boolean;
  /** Stop after this many evaluations in a row without improvement; 0 = never. */
  patience?: number;
  /** An improvement must beat the best by more than this to reset the patience count (HF's early_stopping_threshold). */
  threshold?: number;
}

export interface BestUpdate {
  value: number;
  /** A new best value (any margin): its checkpoint becomes `best_model_checkpoint`. */
  improved: boolean;
  /** Patience ran out: training should stop. */
  stop: boolean;
}

export class BestMetric {
  readonly key: string;
  readonly greaterIsBetter: boolean;

  constructor(
    readonly options: BestMetricOptions,
    private readonly state: TrainerState,
  ) {
    this.key = metricKey(options.metric);
    this.greaterIsBetter = options.greaterIsBetter ?? defaultGreaterIsBetter(options.metric);
  }

  private better(a: number, b: number, margin = 0): boolean {
    return this.greaterIsBetter ? a > b + margin : a < b - margin;
  }

  /** Records an evaluation (at `entry.step`) in the trainer state. */
  update(entry: EvalLogEntry): BestUpdate {
    const value = metricValue(entry, this.key);
    if (value === undefined || !Number.isFinite(value)) {
      throw new Error(
        `--metric_for_best_model ${this.options.metric}: the evaluation has no such metric (available: ${availableMetrics(entry).join(', ')})`,
      );
    }
    const best = this.state.best_metric;
    const improved = best === undefined || this.better(value, best);
    const significant = best === undefined || this.better(value, best, this.options.threshold ?? 0);
    if (improved) {
      this.state.best_metric = value;
      this.state.best_global_step = entry.step;
      this.state.best_model_checkpoint = undefined;
    }
    this.state.evals_without_improvement = significant ? 0 : (this.state.evals_without_improvement ?? 0) + 1;
    const patience = this.options.patience ?? 0;
    return { value, improved, stop: patience > 0 && this.state.evals_without_improvement >= patience };
  }

  /** Records that the checkpoint of `step` was written to `dir` (it becomes the best one if `step` is the best). */
  saved(step: number, dir: string): void {
    if (this.state.best_global_step === step) this.state.best_model_checkpoint = dir;
  }
}
