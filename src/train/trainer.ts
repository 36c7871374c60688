import { tf, type Tensor } from '../tf.js';
import type { EncodedChat } from '../chat/encode-chat.js';
import { collate, type Batch } from '../data/collate.js';
import type { LMM } from '../lmm/lmm.js';
import { Rng } from '../util/rng.js';
import { AdamW } from './adamw.js';
import { accumulate, clipGradNorm, clipGradsBy, globalGradNorm } from './grad-utils.js';
import { readsAreCheap } from './device-limits.js';
import { PendingStepStats, type StepStats } from './step-stats.js';
import { learningRate, warmupSteps, type ScheduleKwargs, type ScheduleType } from './schedule.js';
import { encoderFeatures, type FeatureProvider } from './feature-cache.js';

export type { StepStats };

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

/** The training-loss records of a log history (evaluations left out). */
export function trainEntries(history: (LogEntry | EvalLogEntry)[]): LogEntry[] {
  return history.filter((e): e is LogEntry => !isEvalEntry(e));
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
  /**
   * Called after each optimizer step is queued. Its loss is not known yet (it stays on the device until the
   * next logging step, see `onLog`); `seconds` is host time, which on a GPU may be only the time to queue it.
   */
  onStep?(state: TrainerState, last: { lr: number; tokens: number; seconds: number }): void;
  onLog?(entry: LogEntry): void;
  /**
   * After a step's logging and before its checkpoint (evaluation runs here): may ask for a checkpoint at this
   * step, or to stop training early (the stopping step is then saved as the final one).
   */
  afterStep?(state: TrainerState): Promise<AfterStep | void>;
  /** Each step's loss and gradient norm, when they are read from the device (one call per read, in order). */
  onStepsRead?(stats: StepStats[]): void;
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
  /** Losses and gradient norms of steps not read yet. */
  private readonly pending = new PendingStepStats();
  /** Device boolean: every step so far had a finite loss and gradient norm (gates the optimizer on a GPU). */
  private finiteSoFar: Tensor | null = null;
  /** The same, read, where reading is cheap (cpu, wasm). */
  private allFinite = true;

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

  /**
   * One optimizer step, read back at once: its mean loss, gradient norm, learning rate and tokens. For scripts
   * and benchmarks; `train()` reads once per logging step instead (see `queueStep`).
   */
  async step(): Promise<{ loss: number; tokens: number; lr: number; gradNorm: number }> {
    await this.queueStep();
    const s = (await this.readPending()).pop()!;
    return { loss: s.loss, tokens: s.tokens, lr: s.lr, gradNorm: s.gradNorm };
  }

  /**
   * Runs one optimizer step. On a GPU backend nothing is read back: the loss and gradient norm stay on the
   * device (read later by `readPending`, many steps at once), clipping is computed there, and the update is gated
   * on "every step so far was finite", so a blown-up step changes no weight before anyone has looked at it. On
   * cpu/wasm, where the values are in memory anyway, the norm is read and clipping and skipping happen on the
   * host (the same result, without a `where` per parameter). A non-finite step is reported by `readPending`.
   * The number of live tensors is the same after every step (plus one per step not yet read).
   */
  async queueStep(): Promise<{ step: number; lr: number; tokens: number }> {
    const step = this.state.global_step;
    const features = this.hooks.features ?? encoderFeatures(this.lmm);
    const micro = this.microBatches(step).map((ix) => this.collateRows(ix)).filter((b): b is Batch => b !== null);
    const grads = new Map<string, Tensor>();
    let lossSum: Tensor = tf.scalar(0);
    let tokens = 0;
    const vars = [...this.trainable.values()];
    for (const batch of micro) {
      const f = await features(batch);
      tokens += batch.attentionMask.reduce((s, r) => s + r.reduce((a, x) => a + x, 0), 0);
      // A function means the encoders train: run them inside the tape (their outputs are freed with it).
      const lossOf = () => this.lmm.loss(batch, typeof f === 'function' ? f() : f, true);
      const { value, grads: g } = tf.variableGrads(() => tf.mul(lossOf(), 1 / micro.length) as tf.Scalar, vars);
      const sum = tf.add(lossSum, value);
      lossSum.dispose();
      value.dispose();
      lossSum = sum;
      accumulate(grads, g, this.varNames);
      if (typeof f !== 'function') for (const t of f) t?.dispose();
    }
    const lr = learningRate(
      this.config.scheduler,
      this.config.learningRate,
      step,
      this.totalSteps,
      warmupSteps(this.totalSteps, this.config.warmupRatio, this.config.warmupSteps),
      this.config.schedulerKwargs,
    );
    let gradNorm: Tensor;
    if (readsAreCheap()) {
      // cpu/wasm: the numbers are in memory already; clip and skip exactly as PyTorch would, without device gates.
      gradNorm = globalGradNorm(grads.values());
      const both = tf.tidy(() => tf.stack([tf.reshape(lossSum, []), gradNorm]));
      const [loss, norm] = await both.data();
      both.dispose();
      this.allFinite &&= Number.isFinite(loss) && Number.isFinite(norm);
      clipGradsBy(grads, norm, this.config.maxGradNorm);
      if (this.allFinite) this.optimizer.apply(this.trainable, grads, lr, noDecay);
    } else {
      // GPU: nothing is read; the update is gated on the device by "every step so far was finite".
      gradNorm = clipGradNorm(grads, this.config.maxGradNorm);
      const finite = tf.tidy(() => tf.logicalAnd(this.finiteSoFar ?? tf.scalar(true, 'bool'), tf.all(tf.isFinite(tf.stack([tf.reshape(lossSum, []), gradNorm])))));
      this.finiteSoFar?.dispose();
      this.finiteSoFar = finite;
      this.optimizer.apply(this.trainable, grads, lr, noDecay, finite);
    }
    for (const g of grads.values()) g.dispose();
    this.state.global_step = step + 1;
    this.state.epoch = this.state.global_step / this.stepsPerEpoch;
    for (const [k, r] of Object.entries(this.rngs)) this.state.rng[k] = r.state;
    this.pending.push(step + 1, lossSum, gradNorm, lr, tokens);
    return { step: step + 1, lr, tokens };
  }

  /**
   * Reads the steps run since the last read (one download for all of them). Throws `NonFiniteLossError` for the
   * first step whose loss or gradient norm was not finite; no weight changed from that step on, and
   * `state.global_step` is set back to the last good step.
   */
  async readPending(): Promise<StepStats[]> {
    const stats = await this.pending.read();
    if (stats.length) this.hooks.onStepsRead?.(stats.filter((s) => Number.isFinite(s.loss) && Number.isFinite(s.gradNorm)));
    const bad = stats.find((s) => !Number.isFinite(s.loss) || !Number.isFinite(s.gradNorm));
    if (bad) {
      this.state.global_step = bad.step - 1;
      this.state.epoch = this.state.global_step / this.stepsPerEpoch;
      throw new NonFiniteLossError(
        `loss became ${bad.loss} (gradient norm ${bad.gradNorm}) at step ${bad.step}; stopping without updating. ` +
          'Lower --learning_rate or check the data; the last saved checkpoint is the last good state.',
      );
    }
    return stats;
  }

  /**
   * Trains from the current step to `totalSteps` (or until `signal` aborts or `afterStep` asks to stop), logging,
   * evaluating and saving as configured. Losses are read from the device once per logging step, before each
   * checkpoint and at the end, never per step (a synchronous read per step stalls, and on WebGPU breaks, the GPU).
   */
  async train(signal?: AbortSignal): Promise<TrainerState> {
    const start = performance.now();
    const firstStep = this.state.global_step;
    const logEvery = Math.max(1, this.config.loggingSteps);
    let windowStart = performance.now();
    let window: StepStats[] = [];
    let windowRows = 0;
    const logWindow = () => {
      if (!window.length) return;
      const now = performance.now();
      const seconds = Math.max((now - windowStart) / 1000, 1e-9);
      const elapsed = (now - start) / 1000;
      const last = window[window.length - 1];
      const entry: LogEntry = {
        step: last.step,
        epoch: Number((last.step / this.stepsPerEpoch).toFixed(4)),
        loss: window.reduce((s, x) => s + x.loss, 0) / window.length,
        learning_rate: last.lr,
        grad_norm: last.gradNorm,
        tokens_per_second: window.reduce((s, x) => s + x.tokens, 0) / seconds,
        rows_per_second: windowRows / seconds,
        elapsed_seconds: Number(elapsed.toFixed(3)),
        eta_seconds: Number(((elapsed / Math.max(1, last.step - firstStep)) * (this.totalSteps - last.step)).toFixed(3)),
      };
      this.state.log_history.push(entry);
      this.hooks.onLog?.(entry);
      window = [];
      windowRows = 0;
      windowStart = performance.now();
    };
    while (this.state.global_step < this.totalSteps && !signal?.aborted) {
      const t0 = performance.now();
      windowRows += this.microBatches(this.state.global_step).reduce((s, b) => s + b.length, 0);
      const { step, lr, tokens } = await this.queueStep();
      this.hooks.onStep?.(this.state, { lr, tokens, seconds: (performance.now() - t0) / 1000 });
      if (step % logEvery === 0 || step === this.totalSteps) {
        window = window.concat(await this.readPending());
        logWindow();
      }
      const ta = performance.now();
      const after = (await this.hooks.afterStep?.(this.state)) ?? {};
      // Evaluation time is not training time: rows/s and tokens/s stay the training speed.
      windowStart += performance.now() - ta;
      const final = step === this.totalSteps || !!after.stop;
      const saving = !!this.hooks.save && (final || !!after.save || (this.config.saveSteps > 0 && step % this.config.saveSteps === 0));
      // A checkpoint holds only steps whose losses were finite; an early stop logs its partial window.
      if (saving || after.stop) window = window.concat(await this.readPending());
      if (after.stop) logWindow();
      if (saving) await this.hooks.save!(this.state, this.optimizer, final);
      if (after.stop) break;
    }
    // Stopped by the signal: read what ran and log the partial window, so no step goes unrecorded.
    window = window.concat(await this.readPending());
    logWindow();
    return this.state;
  }

  dispose(): void {
    this.optimizer.dispose();
    this.pending.dispose();
    this.finiteSoFar?.dispose();
    this.finiteSoFar = null;
  }
}
