import { tf, type Tensor } from '../tf.js';
import type { EncodedChat } from '../chat/encode-chat.js';
import { collate, type Batch } from '../data/collate.js';
import type { LMM } from '../lmm/lmm.js';
import { Rng } from '../util/rng.js';
import { AdamW } from './adamw.js';
import { accumulate, clipGradNorm } from './grad-utils.js';
import { learningRate, warmupSteps, type ScheduleKwargs, type ScheduleType } from './schedule.js';
import { encoderFeatures, type FeatureProvider } from './feature-cache.js';

export interface TrainConfig {
  numTrainEpochs: number;
  /** > 0 overrides the epoch count (HF semantics). */
  maxSteps?: number;
  batchSize: number;
  gradientAccumulationSteps: number;
  learningRate: number;
  weightDecay: number;
  warmupRatio: number;
  warmupSteps?: number;
  scheduler: ScheduleType;
  /** HF's `lr_scheduler_kwargs` (`num_cycles`, `power`, `lr_end`, …). */
  schedulerKwargs?: ScheduleKwargs;
  /** Global gradient-norm clip (HF default 1.0; 0 disables). */
  maxGradNorm: number;
  seed: number;
  modelMaxLength: number;
  loggingSteps: number;
  /** 0 = only at the end. */
  saveSteps: number;
}

export interface LogEntry {
  step: number;
  epoch: number;
  loss: number;
  learning_rate: number;
  grad_norm: number;
  tokens_per_second: number;
  /** Rows per second over the logging window. */
  rows_per_second?: number;
  /** Wall seconds since this `train()` call began (evaluation included). */
  elapsed_seconds?: number;
  /** Remaining steps at this run's average pace so far (evaluation included). */
  eta_seconds?: number;
  skipped_rows?: number;
}

/** One evaluation (HF's `eval_*` names); accuracy fields only for short-answer eval sets. */
export interface EvalLogEntry {
  step: number;
  epoch: number;
  eval_loss: number;
  /** Exact-match accuracy over every eval row, 0..1. */
  eval_exact_match?: number;
  /** Per question type: rows, correct answers, accuracy 0..1. */
  eval_exact_match_by_type?: Record<string, { n: number; correct: number; accuracy: number }>;
  eval_samples: number;
  eval_runtime: number;
  eval_samples_per_second: number;
}

export function isEvalEntry(e: LogEntry | EvalLogEntry): e is EvalLogEntry {
  return (e as EvalLogEntry).eval_loss !== undefined;
}

/** What the caller wants after a step (evaluation decides): a checkpoint now, and/or to stop (early stopping). */
export interface AfterStep {
  save?: boolean;
  stop?: boolean;
}

/** Everything needed to continue a run exactly: written as `trainer_state.json` (+ optimizer tensors). */
export interface TrainerState {
  global_step: number;
  max_steps: number;
  epoch: number;
  log_history: (LogEntry | EvalLogEntry)[];
  /** States of the named random generators (LoRA dropout) at `global_step`. */
  rng: Record<string, number>;
  /** HF's best-model bookkeeping: the best value of `metric_for_best_model` so far, its step and checkpoint. */
  best_metric?: number;
  best_global_step?: number;
  best_model_checkpoint?: string;
  /** Evaluations in a row without improvement (early stopping); kept here so a resumed run continues the count. */
  evals_without_improvement?: number;
}

export interface TrainHooks {
  /** Encoder features for a batch (default: run the encoders every time). */
  features?: FeatureProvider;
  /** Called after each optimizer step. */
  onStep?(state: TrainerState, last: { loss: number; lr: number; tokens: number; seconds: number }): void;
  onLog?(entry: LogEntry): void;
  /**
   * After a step's logging and before its checkpoint (evaluation runs here): may ask for a checkpoint at this
   * step, or to stop training early (the stopping step is then saved as the final one).
   */
  afterStep?(state: TrainerState): Promise<AfterStep | void>;
  /** Writes a checkpoint (every `saveSteps`, and at the end with `final`). */
  save?(state: TrainerState, optimizer: AdamW, final: boolean): Promise<void>;
  /** A row skipped by the collator (its placeholder run would be cut by truncation). */
  onSkippedRow?(id: string, reason: string): void;
}

/** Raised when the loss or gradient stops being finite; the last checkpoint stays the last good one. */
export class NonFiniteLossError extends Error {}

/** Deterministic shuffle of `0..n-1` for an epoch (Fisher–Yates with a seeded generator). */
export function epochOrder(n: number, seed: number, epoch: number): number[] {
  const rng = new Rng((seed * 1000003 + epoch * 7919) >>> 0);
  const idx = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    [idx[i], idx[j]] = [idx[j], idx[i]];
  }
  return idx;
}

/** HF's weight-decay exclusion: no decay on biases and norm weights. */
export function noDecay(name: string): boolean {
  return name.endsWith('.bias') || /norm\.weight$|layernorm\.weight$|LayerNorm\.weight$/.test(name);
}

/**
 * The training loop shared by Node and the browser: deterministic data order per epoch, gradient
 * accumulation, global-norm clipping, AdamW with the HF schedules, a non-finite guard, and resumable state.
 * Which parameters train is decided by the caller (`trainable`: pretrain = projectors, LoRA = adapters +
 * projectors, full = everything) — only those are differentiated and updated.
 */
export class Trainer {
  readonly optimizer: AdamW;
  readonly state: TrainerState;
  readonly batchesPerEpoch: number;
  readonly stepsPerEpoch: number;
  readonly totalSteps: number;
  private readonly varNames = new Map<string, string>();

  constructor(
    readonly lmm: LMM,
    readonly rows: EncodedChat[],
    readonly trainable: Map<string, tf.Variable>,
    readonly config: TrainConfig,
    readonly hooks: TrainHooks = {},
    readonly rngs: Record<string, Rng> = {},
  ) {
    if (rows.length === 0) throw new Error('no training rows');
    if (trainable.size === 0) throw new Error('nothing to train: no trainable parameters');
    for (const [name, v] of trainable) {
      v.trainable = true;
      this.varNames.set(v.name, name);
    }
    this.optimizer = new AdamW({ weightDecay: config.weightDecay });
    this.batchesPerEpoch = Math.ceil(rows.length / config.batchSize);
    this.stepsPerEpoch = Math.ceil(this.batchesPerEpoch / config.gradientAccumulationSteps);
    this.totalSteps = config.maxSteps && config.maxSteps > 0 ? config.maxSteps : Math.ceil(this.stepsPerEpoch * config.numTrainEpochs);
    this.state = { global_step: 0, max_steps: this.totalSteps, epoch: 0, log_history: [], rng: {} };
  }

  /** Restores a checkpoint's state (weights are restored by the caller before this). */
  resume(state: TrainerState, optimizerStep: number, optimizerTensors: Map<string, Tensor>): void {
    Object.assign(this.state, state, { max_steps: this.totalSteps });
    for (const [k, s] of Object.entries(state.rng ?? {})) if (this.rngs[k]) this.rngs[k].state = s;
    this.optimizer.load(optimizerStep, optimizerTensors);
  }

  /** Micro-batches (row indices) of optimizer step `step`. */
  microBatches(step: number): number[][] {
    const epoch = Math.floor(step / this.stepsPerEpoch);
    const s = step % this.stepsPerEpoch;
    const order = epochOrder(this.rows.length, this.config.seed, epoch);
    const A = this.config.gradientAccumulationSteps;
    const out: number[][] = [];
    for (let k = s * A; k < Math.min((s + 1) * A, this.batchesPerEpoch); k++) {
      out.push(order.slice(k * this.config.batchSize, (k + 1) * this.config.batchSize));
    }
    return out;
  }

  private collateRows(indices: number[]): Batch | null {
    const { batch, skipped } = collate(
      indices.map((i) => this.rows[i]),
      { maxLength: this.config.modelMaxLength, padTokenId: this.lmm.tokenizer.padTokenId, tokenWidths: this.lmm.tokenWidths },
    );
    for (const s of skipped) this.hooks.onSkippedRow?.(s.id, s.reason);
    return batch;
  }

  /** One optimizer step; returns its mean loss. */
  async step(): Promise<{ loss: number; tokens: number; lr: number; gradNorm: number }> {
    const step = this.state.global_step;
    const features = this.hooks.features ?? encoderFeatures(this.lmm);
    const micro = this.microBatches(step).map((ix) => this.collateRows(ix)).filter((b): b is Batch => b !== null);
    const grads = new Map<string, Tensor>();
    let lossSum = 0;
    let tokens = 0;
    const vars = [...this.trainable.values()];
    for (const batch of micro) {
      const f = await features(batch);
      tokens += batch.attentionMask.reduce((s, r) => s + r.reduce((a, x) => a + x, 0), 0);
      // A function means the encoders train: run them inside the tape (their outputs are freed with it).
      const lossOf = () => this.lmm.loss(batch, typeof f === 'function' ? f() : f, true);
      const { value, grads: g } = tf.variableGrads(() => tf.mul(lossOf(), 1 / micro.length) as tf.Scalar, vars);
      lossSum += value.dataSync()[0];
      value.dispose();
      accumulate(grads, g, this.varNames);
      if (typeof f !== 'function') for (const t of f) t?.dispose();
    }
    const gradNorm = grads.size ? clipGradNorm(grads, this.config.maxGradNorm) : 0;
    const lr = learningRate(
      this.config.scheduler,
      this.config.learningRate,
      step,
      this.totalSteps,
      warmupSteps(this.totalSteps, this.config.warmupRatio, this.config.warmupSteps),
      this.config.schedulerKwargs,
    );
    if (!Number.isFinite(lossSum) || !Number.isFinite(gradNorm)) {
      for (const g of grads.values()) g.dispose();
      throw new NonFiniteLossError(
        `loss became ${lossSum} (gradient norm ${gradNorm}) at step ${step + 1}; stopping without updating. ` +
          'Lower --learning_rate or check the data; the last saved checkpoint is the last good state.',
      );
    }
    this.optimizer.apply(this.trainable, grads, lr, noDecay);
    for (const g of grads.values()) g.dispose();
    this.state.global_step = step + 1;
    this.state.epoch = this.state.global_step / this.stepsPerEpoch;
    for (const [k, r] of Object.entries(this.rngs)) this.state.rng[k] = r.state;
    return { loss: lossSum, tokens, lr, gradNorm };
  }

  /** Trains from the current step to `totalSteps`, logging and saving as configured. */
  async train(signal?: AbortSignal): Promise<TrainerState> {
    const start = performance.now();
    const firstStep = this.state.global_step;
    const fresh = () => ({ loss: 0, n: 0, tokens: 0, rows: 0, t0: performance.now(), norm: 0, lr: 0 });
    let window = fresh();
    const flush = () => {
      const now = performance.now();
      const seconds = Math.max((now - window.t0) / 1000, 1e-9);
      const elapsed = (now - start) / 1000;
      const done = this.state.global_step - firstStep;
      const entry: LogEntry = {
        step: this.state.global_step,
        epoch: Number(this.state.epoch.toFixed(4)),
        loss: window.loss / window.n,
        learning_rate: window.lr,
        grad_norm: window.norm,
        tokens_per_second: window.tokens / seconds,
        rows_per_second: window.rows / seconds,
        elapsed_seconds: Number(elapsed.toFixed(3)),
        eta_seconds: Number(((elapsed / Math.max(1, done)) * (this.totalSteps - this.state.global_step)).toFixed(3)),
      };
      this.state.log_history.push(entry);
      this.hooks.onLog?.(entry);
      window = fresh();
    };
    while (this.state.global_step < this.totalSteps) {
      if (signal?.aborted) break;
      const t0 = performance.now();
      const rows = this.microBatches(this.state.global_step).reduce((s, b) => s + b.length, 0);
      const r = await this.step();
      const seconds = (performance.now() - t0) / 1000;
      window = { ...window, loss: window.loss + r.loss, n: window.n + 1, tokens: window.tokens + r.tokens, rows: window.rows + rows, norm: r.gradNorm, lr: r.lr };
      this.hooks.onStep?.(this.state, { loss: r.loss, lr: r.lr, tokens: r.tokens, seconds });
      const step = this.state.global_step;
      if (step % Math.max(1, this.config.loggingSteps) === 0 || step === this.totalSteps) flush();
      const ta = performance.now();
      const after = (await this.hooks.afterStep?.(this.state)) ?? {};
      // Evaluation time is not training time: rows/s and tokens/s stay the training speed.
      window.t0 += performance.now() - ta;
      // An early stop logs the partial window, so the log ends at the step training ended on.
      if (after.stop && window.n > 0) flush();
      const final = step === this.totalSteps || !!after.stop;
      if (this.hooks.save && (final || after.save || (this.config.saveSteps > 0 && step % this.config.saveSteps === 0))) {
        await this.hooks.save(this.state, this.optimizer, final);
      }
      if (after.stop) break;
    }
    return this.state;
  }

  dispose(): void {
    this.optimizer.dispose();
  }
}
