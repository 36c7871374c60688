/**
 * Evaluation during a `multi-token train` run: loads the held-out rows (validated like the training rows),
 * decides whether exact match applies (short reference answers), evaluates when the strategy says so, keeps the
 * best metric (and with `--load_best_model_at_end` a checkpoint at every evaluation, so the best one is on disk),
 * stops early when patience runs out, and at the end puts the best checkpoint's weights back into the model.
 */
import type { ChatRow } from '../../src/chat/encode-chat.js';
import type { BatchFeatures, LMM } from '../../src/lmm/lmm.js';
import { restoreTrainableWeights } from '../../src/lmm/restore.js';
import { questionsOf, shortAnswers, SHORT_ANSWER_TOKENS, type Question } from '../../src/eval/exact-match.js';
import { BestMetric, metricKey, type BestUpdate } from '../../src/train/best-metric.js';
import { shouldEvaluate } from '../../src/train/eval-schedule.js';
import { Evaluator } from '../../src/train/evaluate.js';
import { cachedFeatures, type FeatureBatch, type FeatureStore } from '../../src/train/feature-cache.js';
import type { AfterStep, EvalLogEntry, Trainer, TrainerState } from '../../src/train/trainer.js';
import type { EvalItem } from '../../src/eval/accuracy.js';
import { FolderSource } from '../folder-source.js';
import { localLoader } from '../media-local.js';
import { readQuestionTypes } from '../dataset/question-types.js';
import type { TrainArgs } from './args.js';
import { loadTrainingRows } from './data.js';
import type { EvalPlan } from './eval-plan.js';
import { DiskFeatureStore } from './disk-feature-store.js';
import type { TrainReporter } from './train-reporter.js';
import { formatMetric, type RunSummary } from '../../src/train/log-format.js';

export interface EvalReport {
  entry: EvalLogEntry;
  items: EvalItem[];
  best: BestUpdate | null;
}

export interface TrainEvalOptions {
  log: (line: string) => void;
  /** Called with every evaluation (the reporter prints and records it). */
  onEval: (r: EvalReport) => void;
  /** Called when an evaluation starts (so a quiet pause is explained). */
  onEvalStart?: (step: number, rows: number, questions: number) => void;
  onProgress?: (phase: 'loss' | 'answers', done: number, total: number) => void;
  /** Features may be cached: the encoders are frozen. */
  cacheFeatures: boolean;
  store?: FeatureStore;
  fingerprint: string;
}

export class TrainEvaluation {
  private constructor(
    readonly plan: EvalPlan,
    private readonly args: TrainArgs,
    private readonly lmm: LMM,
    private readonly evaluator: Evaluator,
    private readonly questions: Question[] | undefined,
    readonly best: BestMetric,
    private readonly opts: TrainEvalOptions,
    private readonly disposeFeatures: () => void,
  ) {}

  /** Null when evaluation is off. Throws (one line) when the eval set or the metric cannot work. */
  static async create(plan: EvalPlan, args: TrainArgs, lmm: LMM, state: TrainerState, opts: TrainEvalOptions): Promise<TrainEvaluation | null> {
    if (plan.strategy === 'no' || !plan.source) return null;
    const data = await loadTrainingRows(plan.source.path, lmm, args.skip_bad_rows, opts.log, { split: plan.source.split });
    const limit = args.max_eval_samples && args.max_eval_samples > 0 ? args.max_eval_samples : data.encoded.length;
    const encoded = data.encoded.slice(0, limit);
    const rows = data.rows.slice(0, limit) as unknown as ChatRow[];
    const loadBytes = localLoader({ baseDir: data.baseDir });
    let questions: Question[] | undefined;
    let why = '';
    try {
      const types = await readQuestionTypes(plan.source.path);
      const qs = questionsOf(rows, (id) => types.get(id));
      const s = shortAnswers(lmm, qs);
      if (s.short) questions = qs;
      else why = `${s.long} of ${qs.length} reference answers are longer than ${SHORT_ANSWER_TOKENS} tokens`;
    } catch (e) {
      why = (e as Error).message;
    }
    if (!questions) opts.log(`eval: loss only, no exact match (${why})`);
    // The metric is checked now, not at the first evaluation (which may be hours in).
    const key = metricKey(args.metric_for_best_model ?? 'loss');
    const available = ['loss', ...(questions ? ['exact_match', ...[...new Set(questions.map((q) => q.type))].sort().map((t) => `exact_match_${t}`)] : [])];
    if (!available.includes(key.slice('eval_'.length))) {
      throw new Error(
        key.startsWith('eval_exact_match') && !questions
          ? `--metric_for_best_model ${args.metric_for_best_model}: exact match is not computed on this eval set (${why})`
          : `--metric_for_best_model ${args.metric_for_best_model}: the evaluation has no such metric (available: ${available.join(', ')})`,
      );
    }

    let dispose = () => {};
    let features: (b: FeatureBatch) => Promise<BatchFeatures>;
    if (opts.cacheFeatures && lmm.modalities.length) {
      // A separate key space: eval ids may repeat training ids.
      const cache = cachedFeatures(lmm, { loadBytes }, opts.store, `${opts.fingerprint}:eval`);
      features = cache;
      dispose = () => cache.dispose();
    } else {
      features = async (b) => lmm.encode(await lmm.preprocess(b.items, b.ids, { loadBytes }), b.layout, b.ids);
    }
    const maxNewTokens = questions ? shortAnswers(lmm, questions).maxNewTokens : undefined;
    const evaluator = new Evaluator(lmm, encoded, {
      batchSize: args.per_device_eval_batch_size,
      modelMaxLength: args.model_max_length,
      features,
      questions,
      maxNewTokens,
      onProgress: opts.onProgress,
    });
    for (const s of evaluator.skipped) opts.log(`eval: skipped row ${JSON.stringify(s.id)}: ${s.reason}`);
    const best = new BestMetric(
      { metric: args.metric_for_best_model ?? 'loss', greaterIsBetter: args.greater_is_better, patience: args.early_stopping_patience, threshold: args.early_stopping_threshold },
      state,
    );
    return new TrainEvaluation(plan, args, lmm, evaluator, questions, best, opts, dispose);
  }

  /** Rows and questions per evaluation. */
  get size(): { rows: number; questions: number } {
    return { rows: this.evaluator.rows.length - this.evaluator.skipped.length, questions: this.questions?.length ?? 0 };
  }

  /** The trainer's `afterStep` hook. */
  async afterStep(trainer: Trainer): Promise<AfterStep> {
    const state = trainer.state;
    const due = shouldEvaluate(state.global_step, {
      strategy: this.plan.strategy,
      evalSteps: this.plan.evalSteps,
      stepsPerEpoch: trainer.stepsPerEpoch,
      totalSteps: trainer.totalSteps,
    });
    if (!due) return {};
    this.opts.onEvalStart?.(state.global_step, this.size.rows, this.size.questions);
    const { entry, items } = await this.evaluator.evaluate(state.global_step, state.epoch);
    state.log_history.push(entry);
    const best = this.best.update(entry);
    this.opts.onEval({ entry, items, best });
    return { save: this.args.load_best_model_at_end, stop: best.stop };
  }

  /**
   * With `--load_best_model_at_end`: loads the best checkpoint's weights into the model (unless the model is
   * already at that step). Returns the checkpoint loaded, if any.
   */
  async loadBest(state: TrainerState): Promise<string | null> {
    if (!this.args.load_best_model_at_end || !state.best_model_checkpoint || state.best_global_step === state.global_step) return null;
    await restoreTrainableWeights(this.lmm, new FolderSource(state.best_model_checkpoint));
    return state.best_model_checkpoint;
  }

  dispose(): void {
    this.disposeFeatures();
  }
}

/**
 * The evaluation step of a run (between logging and checkpoints): null when evaluation is off; otherwise the
 * trainer evaluates after the steps the strategy names, and the reporter prints and records each evaluation.
 */
export async function attachEvaluation(
  plan: EvalPlan,
  args: TrainArgs,
  lmm: LMM,
  trainer: Trainer,
  reporter: TrainReporter,
  fingerprint: string,
): Promise<TrainEvaluation | null> {
  const evaluation = await TrainEvaluation.create(plan, args, lmm, trainer.state, {
    log: (l) => reporter.print(l),
    onEval: (r) => reporter.onEval(r),
    onEvalStart: (step, rows, qs) => reporter.onEvalStart(step, rows, qs),
    onProgress: (phase, done, total) => reporter.onEvalProgress(phase, done, total),
    cacheFeatures: !args.train_encoders,
    store: args.feature_cache ? new DiskFeatureStore(args.feature_cache) : undefined,
    fingerprint,
  });
  if (evaluation) trainer.hooks.afterStep = () => evaluation.afterStep(trainer);
  return evaluation;
}

/**
 * After training: puts the best checkpoint's weights back with `--load_best_model_at_end` and returns what the
 * summary says about the best evaluation and an early stop.
 */
export async function finishEvaluation(
  evaluation: TrainEvaluation | null,
  args: TrainArgs,
  trainer: Trainer,
  out: string,
  log: (line: string) => void,
): Promise<Pick<RunSummary, 'best' | 'stoppedEarly'>> {
  if (!evaluation) return {};
  const st = trainer.state;
  const metric = evaluation.best.key;
  const stoppedEarly =
    st.global_step < trainer.totalSteps
      ? `no improvement of ${metric} for ${args.early_stopping_patience} evaluations (step ${st.global_step} of ${trainer.totalSteps})`
      : undefined;
  const loaded = await evaluation.loadBest(st);
  if (loaded) log(`loaded the best model (${metric} ${formatMetric(metric, st.best_metric!)} at step ${st.best_global_step}) from ${loaded}`);
  const best =
    st.best_metric !== undefined && st.best_global_step !== undefined
      ? { metric, value: st.best_metric, step: st.best_global_step, checkpoint: st.best_model_checkpoint, loadedInto: args.load_best_model_at_end ? out : undefined }
      : undefined;
  return { best, stoppedEarly };
}
