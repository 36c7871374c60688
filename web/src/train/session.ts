/**
 * Training the loaded model in the tab: the library's `Trainer` (the same loop `multi-token train` runs) on the
 * panel's examples, with frozen-encoder features cached per picture, checkpoints into the browser's private
 * storage, and the weights updated in place, so the chat answers with them as soon as a step is done.
 */
import { tf, type Tensor } from '../../../src/tf.js';
import type { LMM } from '../../../src/lmm/lmm.js';
import type { ModelSource } from '../../../src/io/source.js';
import type { EncodedChat } from '../../../src/chat/encode-chat.js';
import { Trainer, trainEntries, type LogEntry, type StepStats, type TrainConfig, type TrainerState } from '../../../src/train/trainer.js';
import { cachedFeatures } from '../../../src/train/feature-cache.js';
import { optimizerFile, readOptimizerFile } from '../../../src/train/optimizer-file.js';
import { applyLora } from '../../../src/lora/lora.js';
import { restoreTrainableWeights } from '../../../src/lmm/restore.js';
import { readJSON } from '../../../src/io/source.js';
import { exampleRow, type ImageInput, type TrainExample } from './examples.js';
import { loraConfigOf, type RunStore, type StoredCheckpoint, type TrainSettings } from './run-store.js';
import { checkpointFiles, resultFiles } from './result-files.js';

/** What the panel hears while training runs. */
export interface SessionHooks {
  /** After each step is queued (progress and ETA). */
  onStep?(step: number, total: number): void;
  /** Per-step losses, once read from the device. */
  onLosses?(stats: StepStats[]): void;
  /** A checkpoint is in the browser's storage. */
  onSaved?(step: number): void;
}

/** Where a run starts: from the loaded weights, from the state this tab trained, or a stored checkpoint. */
export type StartFrom = { kind: 'fresh' } | { kind: 'continue' } | { kind: 'checkpoint'; checkpoint: StoredCheckpoint };

/** Checkpoint every this many steps (and when stopped, and at the end). */
const SAVE_EVERY = 5;

/** The trainer's settings for the panel's choices: HF defaults where the panel offers no choice. */
function trainConfig(s: TrainSettings, rows: number, lmm: LMM): TrainConfig {
  return {
    numTrainEpochs: 1,
    maxSteps: s.steps,
    batchSize: Math.max(1, Math.min(s.batchSize, rows)),
    gradientAccumulationSteps: 1,
    learningRate: s.learningRate,
    weightDecay: 0,
    warmupRatio: 0,
    // Constant: "continue for more steps" then means the same thing as having asked for them at the start.
    scheduler: 'constant',
    maxGradNorm: 1,
    seed: 0,
    modelMaxLength: Math.min(lmm.lm.config.maxPositionEmbeddings, 4096),
    loggingSteps: 1,
    saveSteps: SAVE_EVERY,
  };
}

export class TrainSession {
  /** Projector weights as loaded, for "start over" and "use the original model". */
  private readonly original = new Map<string, Tensor>();
  private readonly features;
  private trainer: Trainer | null = null;
  private settings: TrainSettings | null = null;
  private examples: readonly TrainExample[] = [];
  private lastSaved = -1;

  constructor(
    readonly lmm: LMM,
    /** Where the model was loaded from (tokenizer and encoder files for the download). */
    readonly source: ModelSource,
    readonly location: string,
    readonly input: ImageInput,
    readonly store: RunStore | null,
  ) {
    for (const [k, v] of lmm.projectorParameters()) this.original.set(k, tf.keep(v.clone()));
    // Encoders are frozen: each picture goes through the vision tower once per session.
    this.features = cachedFeatures(lmm, {}, undefined, location);
  }

  /** The state this tab trained to (what "continue" starts from), or null. */
  get current(): { state: TrainerState; settings: TrainSettings } | null {
    return this.trainer && this.settings ? { state: this.trainer.state, settings: this.settings } : null;
  }

  /** Whether the model's weights differ from the loaded ones. */
  get changed(): boolean {
    return this.trainer !== null || this.lmm.lora !== null;
  }

  /** Tokenises the examples; one error lists every example at fault, by picture name. */
  encode(examples: readonly TrainExample[]): EncodedChat[] {
    const bad: string[] = [];
    const rows: EncodedChat[] = [];
    examples.forEach((e, i) => {
      const label = e.qa ? `"${e.pictures[0]?.name ?? e.id}"` : `row "${e.id}"`;
      try {
        rows.push(this.lmm.encodeRow(exampleRow(e, this.input), { mode: 'train' }, i));
      } catch (err) {
        bad.push(`${label}: ${(err as Error).message.replace(/^row "[^"]*": /, '')}`);
      }
    });
    if (bad.length) throw new Error(bad.join('; '));
    if (rows.length === 0) throw new Error('add at least one picture with an answer');
    return rows;
  }

  /**
   * Trains until `settings.steps` or until `signal` aborts, checkpointing into the store. Returns the state
   * reached. The model's weights change in place as it goes.
   */
  async run(examples: readonly TrainExample[], settings: TrainSettings, from: StartFrom, hooks: SessionHooks, signal: AbortSignal): Promise<TrainerState> {
    const rows = this.encode(examples);
    const trainer = await this.makeTrainer(rows, settings, from);
    this.examples = [...examples];
    trainer.hooks.features = this.features;
    trainer.hooks.onStep = (state) => hooks.onStep?.(state.global_step, trainer.totalSteps);
    trainer.hooks.onStepsRead = (stats) => hooks.onLosses?.(stats);
    trainer.hooks.save = async (state) => {
      await this.save();
      hooks.onSaved?.(state.global_step);
    };
    if (from.kind === 'fresh') await this.store?.clearCheckpoints();
    await this.store?.saveRun(examples, settings);
    await trainer.train(signal);
    if (trainer.state.global_step > this.lastSaved && this.store) {
      await this.save();
      hooks.onSaved?.(trainer.state.global_step);
    }
    return trainer.state;
  }

  private async makeTrainer(rows: EncodedChat[], settings: TrainSettings, from: StartFrom): Promise<Trainer> {
    const prev = this.trainer;
    if (from.kind === 'continue' && (!prev || !this.settings)) throw new Error('nothing to continue: no training has run in this tab');
    if (from.kind === 'continue' && (this.settings!.mode !== settings.mode || this.settings!.rank !== settings.rank)) {
      throw new Error('the mode or LoRA rank changed: start over to train with the new settings');
    }
    if (from.kind !== 'continue') {
      this.resetWeights();
      if (settings.mode === 'lora') this.lmm.lora = applyLora(this.lmm.lm, loraConfigOf(settings), 0);
    }
    const trainable = new Map(this.lmm.projectorParameters());
    if (settings.mode === 'lora') for (const [k, v] of this.lmm.loraParameters()) trainable.set(k, v);
    const trainer = new Trainer(this.lmm, rows, trainable, trainConfig(settings, rows.length, this.lmm));
    if (from.kind === 'continue') {
      const { step, tensors } = prev!.optimizer.state();
      trainer.resume(prev!.state, step, tensors); // copies the moments
    } else if (from.kind === 'checkpoint') {
      const src = from.checkpoint.source;
      await restoreTrainableWeights(this.lmm, src);
      const state = await readJSON<TrainerState>(src, 'trainer_state.json');
      const opt = readOptimizerFile(await src.readFile('optimizer.safetensors'), `${src.location}/optimizer.safetensors`, state.global_step);
      trainer.resume(state, opt.step, opt.tensors);
      for (const t of opt.tensors.values()) t.dispose();
      this.lastSaved = state.global_step;
    } else {
      this.lastSaved = -1;
    }
    prev?.dispose();
    this.trainer = trainer;
    this.settings = settings;
    return trainer;
  }

  private async save(): Promise<void> {
    if (!this.store || !this.trainer || !this.settings) return;
    const files = await checkpointFiles(this.lmm, this.trainer, this.settings, this.location, this.examples.length);
    files.set('optimizer.safetensors', await optimizerFile(this.trainer.optimizer));
    await this.store.saveCheckpoint(this.trainer.state.global_step, files);
    this.lastSaved = this.trainer.state.global_step;
  }

  /** The files `multi-token train` writes for this run's result (for the download). */
  async resultFiles(): Promise<Map<string, Uint8Array | string>> {
    if (!this.trainer || !this.settings) throw new Error('nothing trained yet');
    return resultFiles(this.lmm, this.trainer, this.settings, this.location, this.examples, this.source);
  }

  /** Puts the loaded weights back: original projectors, no LoRA adapters. Forgets the trained state. */
  resetWeights(): void {
    for (const [k, v] of this.lmm.projectorParameters()) v.assign(this.original.get(k)!);
    if (this.lmm.lora) {
      for (const layer of this.lmm.lm.linears().values()) layer.adapter = null;
      for (const a of this.lmm.lora.values()) a.dispose();
      this.lmm.lora = null;
    }
    this.trainer?.dispose();
    this.trainer = null;
    this.settings = null;
  }

  /** Log of the run so far (for the curve after a reload). */
  get history(): LogEntry[] {
    return trainEntries(this.trainer?.state.log_history ?? []);
  }

  dispose(): void {
    this.trainer?.dispose();
    this.features.dispose();
    for (const t of this.original.values()) t.dispose();
  }
}
