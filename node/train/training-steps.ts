/**
 * The steps of one training run, in the order `runTraining` (run-training.ts) takes them: load the base model
 * and modalities, build the trainer (what trains: projectors / LoRA / everything), prepare the output folder
 * (resume or start over), attach features, logging and checkpoints, train, and write the final model folder.
 */
import { mkdir, stat } from 'node:fs/promises';
import * as path from 'node:path';
import type { tf } from '../../src/tf.js';
import type { RawTensor } from '../../src/io/safetensors.js';
import { loadLMM } from '../../src/lmm/load.js';
import type { LMM } from '../../src/lmm/lmm.js';
import { lmmCheckpointFiles } from '../../src/lmm/save.js';
import { restoreTrainableWeights } from '../../src/lmm/restore.js';
import { applyLora, ALL_LINEAR_TARGETS, ATTENTION_TARGETS, type LoraConfig } from '../../src/lora/lora.js';
import { Rng } from '../../src/util/rng.js';
import { Trainer, NonFiniteLossError } from '../../src/train/trainer.js';
import { cachedFeatures, encoderFeatures, trainableEncoderFeatures } from '../../src/train/feature-cache.js';
import { lossCurveSVG } from '../../src/train/loss-plot.js';
import { checkScheduleKwargs, isScheduleType, SCHEDULE_TYPES, type ScheduleKwargs, type ScheduleType } from '../../src/train/schedule.js';
import { readWeightFiles } from '../../src/io/weights.js';
import { normaliseProjectorKey } from '../../src/lmm/projector-keys.js';
import { writeFileAtomic } from '../atomic-write.js';
import { FolderSource, openSource } from '../folder-source.js';
import { localLoader } from '../media-local.js';
import { dtypeOption, resolveDType } from '../commands/dtype-option.js';
import type { TrainingRows } from './data.js';
import { listCheckpoints, readTrainingState, removeStaleTemp, rotateCheckpoints, saveTrainingState } from './checkpoint.js';
import { chooseResume } from './auto-resume.js';
import { parseJsonOption } from '../commands/options.js';
import { DiskFeatureStore } from './disk-feature-store.js';
import { modelCard } from './model-card.js';
import { TrainProgress } from './progress.js';
import type { TrainArgs } from './args.js';
import { modelFlagNotes, readModelFacts } from './flag-notes.js';
import { checkPretrainedProjectors } from './pretrained-projectors.js';
import { TrainReporter } from './train-reporter.js';
import type { TrainEvaluation } from './train-eval.js';

export type TrainMode = 'pretrain_projectors' | 'lora' | 'full';
type Log = (line: string) => void;

export function trainMode(a: Pick<TrainArgs, 'pretrain_projectors' | 'lora_enable'>): TrainMode {
  return a.pretrain_projectors ? 'pretrain_projectors' : a.lora_enable ? 'lora' : 'full';
}

/** `--model_cls` must name the LM family of the checkpoint (seed names like MistralLMMForCausalLM, or HF ones). */
export function checkModelCls(modelCls: string | undefined, modelType: string): void {
  if (!modelCls) return;
  const family = modelCls.replace(/LMM/, '').replace(/ForCausalLM$/, '').toLowerCase();
  if (family !== modelType) {
    throw new Error(`--model_cls ${modelCls} does not match the checkpoint's model_type "${modelType}"`);
  }
}

function loraTargets(spec: string): string[] {
  if (spec === 'all') return ALL_LINEAR_TARGETS;
  if (spec === 'attention') return ATTENTION_TARGETS;
  return spec.split(',').map((s) => s.trim()).filter(Boolean);
}

/** Parameters that train in each mode (the seed: pretrain → projectors only; LoRA → adapters + projectors). */
function trainableParams(lmm: LMM, mode: TrainMode, encoders: boolean): Map<string, tf.Variable> {
  const m = new Map(lmm.projectorParameters());
  if (encoders) {
    for (const mod of lmm.modalities) {
      if (!mod.encoderParameters) throw new Error(`--train_encoders: the ${mod.name} modality's encoder cannot be finetuned`);
      for (const [k, v] of mod.encoderParameters()) m.set(`encoders.${mod.name}.${k}`, v);
    }
  }
  if (mode === 'lora') for (const [k, v] of lmm.loraParameters()) m.set(k, v);
  if (mode === 'full') for (const [k, v] of lmm.lm.parameters()) m.set(k, v);
  return m;
}

/** Step 0, before anything loads: the flags that can be checked on their own. */
export function checkScheduler(args: TrainArgs): ScheduleType {
  const s = args.lr_scheduler_type;
  if (!isScheduleType(s)) throw new Error(`--lr_scheduler_type must be one of ${SCHEDULE_TYPES.join(', ')} (got ${s})`);
  checkScheduleKwargs(s, schedulerKwargs(args), args.learning_rate);
  // --bits 4|8 (QLoRA) / --dtype take effect in loadBaseModel; a bad value is refused before anything loads.
  resolveDType(args.dtype === undefined ? undefined : dtypeOption(args.dtype), args.bits, '--bits');
  return s;
}

/** `--lr_scheduler_kwargs` as numbers by name (HF's `lr_scheduler_kwargs`). */
function schedulerKwargs(args: TrainArgs): ScheduleKwargs {
  return parseJsonOption<ScheduleKwargs>(args.lr_scheduler_kwargs, '--lr_scheduler_kwargs') ?? {};
}

/** `--pretrained_projectors_path`: the projector tensors of a `.bin`/`.safetensors` file or a folder holding one. */
async function loadPretrainedProjectors(where: string, log: Log): Promise<Map<string, RawTensor>> {
  const p = path.resolve(where);
  const dir = (await stat(p)).isDirectory() ? p : path.dirname(p);
  const stem = p.endsWith('.bin') || p.endsWith('.safetensors') ? path.basename(p).replace(/\.(bin|safetensors)$/, '') : 'non_lora_trainables';
  const raw = await readWeightFiles(new FolderSource(dir), { prefix: stem });
  const projectorWeights = new Map([...raw].filter(([k]) => normaliseProjectorKey(k) !== null));
  log(`projectors from ${p} (${projectorWeights.size} tensors)`);
  return projectorWeights;
}

/** Step 1: the base model with its modalities, projectors initialised or taken from a pretraining run. */
export async function loadBaseModel(args: TrainArgs, log: Log): Promise<LMM> {
  const modalityOptions = parseJsonOption<Record<string, unknown>>(args.modality_options, '--modality_options');
  const projectorWeights = args.pretrained_projectors_path ? await loadPretrainedProjectors(args.pretrained_projectors_path, log) : undefined;
  const mode = trainMode(args);
  // QLoRA: `--bits 4|8` (or --dtype) holds the frozen base quantized; only LoRA/projectors train, in f32.
  const dtype = resolveDType(args.dtype === undefined ? undefined : dtypeOption(args.dtype), args.bits, '--bits');
  if (dtype && dtype !== 'f32' && mode === 'full') {
    throw new Error(`--${args.bits !== undefined ? `bits ${args.bits}` : `dtype ${dtype}`} keeps the base LM frozen: train LoRA (--lora_enable true) or only the projectors (--pretrain_projectors true), as QLoRA does`);
  }
  const lmm = await loadLMM(args.model_name_or_path, {
    open: openSource,
    mergeLora: false,
    dtype,
    trainableLM: mode === 'full',
    gradients: true,
    modalityBuilder: args.modality_builder,
    modalityOptions,
    initProjectors: true,
    projectorWeights,
    seed: args.seed,
    onProgress: log,
  });
  checkModelCls(args.model_cls, lmm.lm.config.modelType);
  // A projector of another shape would load and fail at the first step (or lose layers): say so now.
  const foreign = projectorWeights ? checkPretrainedProjectors(lmm, projectorWeights, path.resolve(args.pretrained_projectors_path!)).foreign : [];
  for (const n of modelFlagNotes(args, { ...(await readModelFacts(args.model_name_or_path, lmm)), foreignProjectors: foreign })) log(`note: ${n}`);
  return lmm;
}

/** What the trainer step decided: the trainer, what it trains, and the LoRA config (when LoRA is on). */
export interface TrainerSetup {
  trainer: Trainer;
  trainable: Map<string, tf.Variable>;
  loraConfig?: LoraConfig;
}

/** Step 3 (after the data): LoRA adapters if asked for, the trainable parameters of the mode, the trainer. */
export function buildTrainer(args: TrainArgs, lmm: LMM, data: TrainingRows, mode: TrainMode, scheduler: ScheduleType): TrainerSetup {
  const dropoutRng = new Rng(args.seed);
  let loraConfig: LoraConfig | undefined;
  // --lora_enable with --pretrain_projectors trains no adapter (a start-up note says so): none is made or saved.
  if (mode === 'lora') {
    loraConfig = { r: args.lora_r, loraAlpha: args.lora_alpha, loraDropout: args.lora_dropout, targetModules: loraTargets(args.lora_target_modules) };
    if (!lmm.lora) lmm.lora = applyLora(lmm.lm, loraConfig, dropoutRng);
  }
  const trainable = trainableParams(lmm, mode, args.train_encoders);
  const trainer = new Trainer(
    lmm,
    data.encoded,
    trainable,
    {
      numTrainEpochs: args.num_train_epochs,
      maxSteps: args.max_steps,
      batchSize: args.per_device_train_batch_size,
      gradientAccumulationSteps: args.gradient_accumulation_steps,
      learningRate: args.learning_rate,
      weightDecay: args.weight_decay,
      warmupRatio: args.warmup_ratio,
      warmupSteps: args.warmup_steps,
      scheduler,
      schedulerKwargs: schedulerKwargs(args),
      maxGradNorm: args.max_grad_norm,
      seed: args.seed,
      modelMaxLength: args.model_max_length,
      loggingSteps: args.logging_steps,
      saveSteps: args.save_steps,
    },
    {},
    { lora_dropout: dropoutRng },
  );
  return { trainer, trainable, loraConfig };
}

/**
 * Step 4: the output folder, cleared of half-written checkpoints; resumes from its newest checkpoint as the seed
 * does (or the one `--resume_from_checkpoint` names; `--overwrite_output_dir` starts over): see auto-resume.ts.
 */
export async function prepareOutputDir(args: TrainArgs, lmm: LMM, trainer: Trainer, log: Log): Promise<string> {
  const out = path.resolve(args.output_dir);
  await mkdir(out, { recursive: true });
  const stale = await removeStaleTemp(out);
  if (stale.length) log(`removed ${stale.length} half-written checkpoint folder(s) from an interrupted run`);
  const resume = await chooseResume({ outputDir: out, resume: args.resume_from_checkpoint, overwrite: args.overwrite_output_dir ?? false, mode: trainMode(args) });
  if (resume.note) log(resume.note);
  if (resume.dir) {
    const dir = resume.dir;
    const restored = await restoreTrainableWeights(lmm, new FolderSource(dir));
    const { state, optimizerStep, optimizer } = await readTrainingState(dir);
    trainer.resume(state, optimizerStep, optimizer);
    for (const t of optimizer.values()) t.dispose();
    log(`resumed from ${dir} at step ${state.global_step} (${restored.projectors} projector, ${restored.lora} LoRA, ${restored.lm} LM, ${restored.encoders} encoder tensors)`);
  }
  return out;
}

/** The feature-cache key prefix: cached features are reused only for the same modality configuration. */
export function featureFingerprint(lmm: LMM): string {
  return JSON.stringify(lmm.modalities.map((m) => m.toConfig()));
}

/** Step 5: where encoder features come from; returns the feature cache to dispose of (null without one). */
export function attachFeatures(args: TrainArgs, lmm: LMM, trainer: Trainer, baseDir: string): { dispose(): void } | null {
  const loadBytes = localLoader({ baseDir });
  const fingerprint = featureFingerprint(lmm);
  // Features can be cached only while the encoders are frozen.
  const cache = lmm.modalities.length && !args.train_encoders
    ? cachedFeatures(lmm, { loadBytes }, args.feature_cache ? new DiskFeatureStore(args.feature_cache) : undefined, fingerprint)
    : null;
  trainer.hooks.features = args.train_encoders ? trainableEncoderFeatures(lmm, { loadBytes }) : (cache ?? encoderFeatures(lmm, { loadBytes }));
  return cache;
}

/**
 * Step 6: the progress bar (a terminal) or one line per logging step (anything else), skipped-row reports,
 * and `train_log.jsonl` + `loss.svg` (train-reporter.ts); returns the skip count.
 */
export function attachLogging(
  args: TrainArgs,
  trainer: Trainer,
  out: string,
  log: Log,
): { progress: TrainProgress; reporter: TrainReporter; skipped: () => number } {
  const progress = new TrainProgress(trainer.totalSteps, trainer.state.global_step, (args.progress ?? true) && !!process.stderr.isTTY);
  const reporter = new TrainReporter({
    out,
    log,
    progress,
    run: { maxSteps: trainer.totalSteps, numEpochs: trainer.totalSteps / trainer.stepsPerEpoch },
    history: () => trainer.state.log_history,
    bestStep: () => trainer.state.best_global_step,
    metric: `eval_${(args.metric_for_best_model ?? 'loss').replace(/^eval_/, '')}`,
  });
  let skipped = 0;
  trainer.hooks.onSkippedRow = (id, reason) => {
    skipped++;
    reporter.print(`skipped row ${JSON.stringify(id)}: ${reason}`);
  };
  trainer.hooks.onStep = (state, last) => {
    reporter.stepDone(trainer.microBatches(state.global_step - 1).reduce((n, b) => n + b.length, 0));
    progress.update(state.global_step, { ...last, epoch: state.epoch });
  };
  trainer.hooks.onLog = (entry) => {
    progress.logged(entry);
    reporter.onLog(entry);
  };
  return { progress, reporter, skipped: () => skipped };
}

/** What every saved folder (checkpoints and the final model) is written with. */
export interface SaveSetup {
  mode: TrainMode;
  loraConfig?: LoraConfig;
  data: TrainingRows;
  out: string;
  /** `training_args.json`'s text. */
  trainArgsJSON: string;
}

function fileOptions(args: TrainArgs, s: SaveSetup) {
  return {
    includeLM: s.mode === 'full',
    lora: s.loraConfig,
    tokenizerSource: s.data.tokenizerSource ?? undefined,
    dtype: args.save_dtype,
    exportEncoders: args.train_encoders,
  };
}

/**
 * Step 7: `checkpoint-N/` folders, written atomically, the oldest removed past `--save_total_limit` — never the
 * best one (HF does the same), so `--load_best_model_at_end` can load it.
 */
export function attachCheckpoints(
  args: TrainArgs,
  lmm: LMM,
  trainer: Trainer,
  s: SaveSetup,
  progress: TrainProgress,
  reporter: TrainReporter,
  evaluation: TrainEvaluation | null,
): void {
  const fileOpts = fileOptions(args, s);
  trainer.hooks.save = async (state, optimizer, final) => {
    const extra = new Map<string, string>([['training_args.json', s.trainArgsJSON]]);
    const dir = path.join(s.out, `checkpoint-${state.global_step}`);
    evaluation?.best.saved(state.global_step, dir);
    await saveTrainingState(dir, lmm, state, optimizer, { ...fileOpts, extra, configOverrides: s.data.configOverrides });
    const removed = await rotateCheckpoints(s.out, args.save_total_limit, state.best_model_checkpoint);
    if (removed.length) reporter.print(`removed old checkpoint(s): ${removed.map((d) => path.basename(d)).join(', ')}`);
    if (final) progress.stop();
  };
}

/** Step 8: trains; a non-finite loss names the last good checkpoint. */
export async function train(trainer: Trainer, out: string, progress: TrainProgress): Promise<void> {
  try {
    await trainer.train();
  } catch (e) {
    progress.stop();
    if (e instanceof NonFiniteLossError) {
      const last = (await listCheckpoints(out)).pop();
      throw new Error(`${e.message}${last ? ` Last good checkpoint: ${last.dir}` : ''}`);
    }
    throw e;
  }
}

/** Step 9: the final model folder, loadable by loadLMM / `generate` / `serve`, and by the seed's loader. */
export async function writeFinalModel(args: TrainArgs, lmm: LMM, trainer: Trainer, s: SaveSetup): Promise<void> {
  const fileOpts = fileOptions(args, s);
  const files = await lmmCheckpointFiles(lmm, { ...fileOpts, exportEncoders: args.train_encoders || args.save_encoders, configOverrides: s.data.configOverrides });
  files.set('trainer_state.json', JSON.stringify(trainer.state, null, 2) + '\n');
  files.set('training_args.json', s.trainArgsJSON);
  files.set('loss.svg', lossCurveSVG(trainer.state.log_history, { bestStep: trainer.state.best_global_step }));
  files.set('README.md', modelCard({ args, mode: s.mode, lmm, state: trainer.state, numExamples: s.data.encoded.length, example: s.data.example }));
  for (const [name, bytes] of files) {
    await mkdir(path.dirname(path.join(s.out, name)), { recursive: true });
    await writeFileAtomic(path.join(s.out, name), bytes);
  }
}
