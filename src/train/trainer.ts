import { tf, type Tensor } from '../tf.js';
import type { EncodedChat } from '../chat/encode-chat.js';
import { collate, type Batch } from '../data/collate.js';
import type { LMM } from '../lmm/lmm.js';
import { Rng } from '../util/rng.js';
import { AdamW } from './adamw.js';
import { accumulate, clipGradNorm } from './grad-utils.js';
import { learningRate, warmupSteps, type ScheduleType } from './schedule.js';
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
  skipped_rows?: number;
}

/** Everything needed to continue a run exactly: written as `trainer_state.json` (+ optimizer tensors). */
export interface TrainerState {
  global_step: number;
  max_steps: number;
  epoch: number;
  log_history: LogEntry[];
  /** States of the named random generators (LoRA dropout) at `global_step`. */
  rng: Record<string, number>;
}

export interface TrainHooks {
  /** Encoder features for a batch (default: run the encoders every time). */
  features?: FeatureProvider;
  /** Called after each optimizer step. */
  onStep?(state: TrainerState, last: { loss: number; lr: number; tokens: number; seconds: number }): void;
  onLog?(entry: LogEntry): void;
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
    let window: { loss: number; n: number; tokens: number; t0: number; norm: number } = { loss: 0, n: 0, tokens: 0, t0: performance.now(), norm: 0 };
    while (this.state.global_step < this.totalSteps) {
      if (signal?.aborted) break;
      const t0 = performance.now();
      const r = await this.step();
      const seconds = (performance.now() - t0) / 1000;
      window = { loss: window.loss + r.loss, n: window.n + 1, tokens: window.tokens + r.tokens, t0: window.t0, norm: r.gradNorm };
      this.hooks.onStep?.(this.state, { loss: r.loss, lr: r.lr, tokens: r.tokens, seconds });
      const step = this.state.global_step;
      if (step % Math.max(1, this.config.loggingSteps) === 0 || step === this.totalSteps) {
        const entry: LogEntry = {
          step,
          epoch: Number(this.state.epoch.toFixed(4)),
          loss: window.loss / window.n,
          learning_rate: r.lr,
          grad_norm: window.norm,
          tokens_per_second: window.tokens / ((performance.now() - window.t0) / 1000),
        };
        this.state.log_history.push(entry);
        this.hooks.onLog?.(entry);
        window = { loss: 0, n: 0, tokens: 0, t0: performance.now(), norm: 0 };
      }
      const final = step === this.totalSteps;
      if (this.hooks.save && (final || (this.config.saveSteps > 0 && step % this.config.saveSteps === 0))) {
        await this.hooks.save(this.state, this.optimizer, final);
      }
    }
    return this.state;
  }

  dispose(): void {
    this.optimizer.dispose();
  }
}
