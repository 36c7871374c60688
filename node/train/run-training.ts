/**
 * One training run, end to end: load the base model and modalities, read and validate the dataset, pick
 * what trains (projectors / LoRA / everything), train with checkpoints, and write the final model folder
 * with a model card and a loss curve. The CLI (`multi-token train`) and tests call this.
 */
import { appendFile, mkdir, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import type { tf } from '../../src/tf.js';
import { loadLMM } from '../../src/lmm/load.js';
import type { LMM } from '../../src/lmm/lmm.js';
import { restoreTrainableWeights } from '../../src/lmm/restore.js';
import { applyLora, ALL_LINEAR_TARGETS, ATTENTION_TARGETS, type LoraConfig } from '../../src/lora/lora.js';
import { Rng } from '../../src/lm/sampling.js';
import { Trainer, NonFiniteLossError, type LogEntry, type TrainerState } from '../../src/train/trainer.js';
import { cachedFeatures, encoderFeatures, trainableEncoderFeatures } from '../../src/train/feature-cache.js';
import { isScheduleType } from '../../src/train/schedule.js';
import { lossCurveSVG } from '../../src/train/loss-plot.js';
import { readWeightFiles } from '../../src/io/weights.js';
import { normaliseProjectorKey } from '../../src/lmm/projector-keys.js';
import { FolderSource, openSource } from '../folder-source.js';
import { localLoader } from '../media-local.js';
import { loadTrainingRows } from './data.js';
import { listCheckpoints, readTrainingState, removeStaleTemp, resolveResume, rotateCheckpoints, saveTrainingState } from './checkpoint.js';
import { DiskFeatureStore } from './disk-feature-store.js';
import { modelCard } from './model-card.js';
import { TrainProgress } from './progress.js';
import type { TrainArgs } from './args.js';

export type TrainMode = 'pretrain_projectors' | 'lora' | 'full';

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

export interface TrainResult {
  state: TrainerState;
  outputDir: string;
  skippedRows: number;
  mode: TrainMode;
}

/**
 * Runs one training. `inspect` sees the trained model before it is freed (tests compare weights with it).
 */
export async function runTraining(
  args: TrainArgs,
  log: (line: string) => void = (l) => process.stderr.write(l + '\n'),
  inspect?: (lmm: LMM) => Promise<void> | void,
): Promise<TrainResult> {
  if (!isScheduleType(args.lr_scheduler_type)) throw new Error(`--lr_scheduler_type must be cosine, linear or constant (got ${args.lr_scheduler_type})`);
  const mode = trainMode(args);
  const modalityOptions = args.modality_options ? (JSON.parse(args.modality_options) as Record<string, unknown>) : undefined;

  let projectorWeights;
  if (args.pretrained_projectors_path) {
    const p = path.resolve(args.pretrained_projectors_path);
    const dir = (await import('node:fs/promises')).stat(p).then((s) => (s.isDirectory() ? p : path.dirname(p)));
    const stem = p.endsWith('.bin') || p.endsWith('.safetensors') ? path.basename(p).replace(/\.(bin|safetensors)$/, '') : 'non_lora_trainables';
    const raw = await readWeightFiles(new FolderSource(await dir), { prefix: stem });
    projectorWeights = new Map([...raw].filter(([k]) => normaliseProjectorKey(k) !== null));
    log(`projectors from ${p} (${projectorWeights.size} tensors)`);
  }
  const lmm = await loadLMM(args.model_name_or_path, {
    open: openSource,
    mergeLora: false,
    modalityBuilder: args.modality_builder,
    modalityOptions,
    initProjectors: true,
    projectorWeights,
    seed: args.seed,
    onProgress: log,
  });
  checkModelCls(args.model_cls, lmm.lm.config.modelType);
  if (args.modality_builder && lmm.meta.modalityBuilder && lmm.meta.modalityBuilder !== args.modality_builder) {
    log(`note: ${args.model_name_or_path} already has modalities (${lmm.meta.modalityBuilder}); --modality_builder ${args.modality_builder} is ignored`);
  }

  const data = await loadTrainingRows(args.dataset_path, lmm, args.skip_bad_rows, log);
  const dropoutRng = new Rng(args.seed);
  let loraConfig: LoraConfig | undefined;
  if (args.lora_enable) {
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
      scheduler: args.lr_scheduler_type,
      maxGradNorm: args.max_grad_norm,
      seed: args.seed,
      modelMaxLength: args.model_max_length,
      loggingSteps: args.logging_steps,
      saveSteps: args.save_steps,
    },
    {},
    { lora_dropout: dropoutRng },
  );

  const out = path.resolve(args.output_dir);
  await mkdir(out, { recursive: true });
  const stale = await removeStaleTemp(out);
  if (stale.length) log(`removed ${stale.length} half-written checkpoint folder(s) from an interrupted run`);
  if (args.resume_from_checkpoint) {
    const dir = await resolveResume(args.resume_from_checkpoint, out);
    const restored = await restoreTrainableWeights(lmm, new FolderSource(dir));
    const { state, optimizerStep, optimizer } = await readTrainingState(dir);
    trainer.resume(state, optimizerStep, optimizer);
    for (const t of optimizer.values()) t.dispose();
    log(`resumed from ${dir} at step ${state.global_step} (${restored.projectors} projector, ${restored.lora} LoRA, ${restored.lm} LM, ${restored.encoders} encoder tensors)`);
  } else if ((await listCheckpoints(out)).length) {
    log(`note: ${out} has checkpoints; starting over (pass --resume_from_checkpoint true to continue)`);
  }

  const loadBytes = localLoader({ baseDir: data.baseDir });
  const fingerprint = JSON.stringify(lmm.modalities.map((m) => m.toConfig()));
  // Features can be cached only while the encoders are frozen.
  const cache = lmm.modalities.length && !args.train_encoders
    ? cachedFeatures(lmm, { loadBytes }, args.feature_cache ? new DiskFeatureStore(args.feature_cache) : undefined, fingerprint)
    : null;
  trainer.hooks.features = args.train_encoders ? trainableEncoderFeatures(lmm, { loadBytes }) : (cache ?? encoderFeatures(lmm, { loadBytes }));

  const trainArgsJSON = JSON.stringify({ ...args, mode }, null, 2) + '\n';
  const logFile = path.join(out, 'train_log.jsonl');
  const progress = new TrainProgress(trainer.totalSteps, trainer.state.global_step, (args.progress ?? true) && !!process.stderr.isTTY);
  let skipped = 0;
  trainer.hooks.onSkippedRow = (id, reason) => {
    skipped++;
    log(`skipped row ${JSON.stringify(id)}: ${reason}`);
  };
  trainer.hooks.onStep = (state, last) => progress.update(state.global_step, last);
  trainer.hooks.onLog = (entry: LogEntry) => {
    progress.log(entry);
    void appendFile(logFile, JSON.stringify(entry) + '\n');
    void writeFile(path.join(out, 'loss.svg'), lossCurveSVG(trainer.state.log_history));
    if (!progress.enabled) log(`step ${entry.step}/${trainer.totalSteps} loss ${entry.loss.toFixed(4)} lr ${entry.learning_rate.toExponential(2)} tok/s ${entry.tokens_per_second.toFixed(0)}`);
  };
  const fileOpts = {
    includeLM: mode === 'full',
    lora: loraConfig,
    tokenizerSource: data.tokenizerSource ?? undefined,
    dtype: args.save_dtype,
    exportEncoders: args.train_encoders,
  };
  trainer.hooks.save = async (state, optimizer, final) => {
    const extra = new Map<string, string>([['training_args.json', trainArgsJSON]]);
    await saveTrainingState(path.join(out, `checkpoint-${state.global_step}`), lmm, state, optimizer, { ...fileOpts, extra, configOverrides: data.configOverrides });
    const removed = await rotateCheckpoints(out, args.save_total_limit);
    if (removed.length) log(`removed old checkpoint(s): ${removed.map((d) => path.basename(d)).join(', ')}`);
    if (final) progress.stop();
  };

  log(`training (${mode}): ${data.encoded.length} rows, ${trainer.totalSteps} steps, ${[...trainable.values()].reduce((s, v) => s + v.size, 0)} trainable parameters`);
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

  // The final model folder: loadable by loadLMM / `generate` / `serve`, and by the seed's loader.
  const { lmmCheckpointFiles } = await import('../../src/lmm/save.js');
  const files = await lmmCheckpointFiles(lmm, { ...fileOpts, exportEncoders: args.train_encoders || args.save_encoders, configOverrides: data.configOverrides });
  files.set('trainer_state.json', JSON.stringify(trainer.state, null, 2) + '\n');
  files.set('training_args.json', trainArgsJSON);
  files.set('loss.svg', lossCurveSVG(trainer.state.log_history));
  files.set('README.md', modelCard({ args, mode, lmm, state: trainer.state, numExamples: data.encoded.length, example: data.example }));
  const { writeFileAtomic } = await import('../atomic-write.js');
  for (const [name, bytes] of files) {
    await mkdir(path.dirname(path.join(out, name)), { recursive: true });
    await writeFileAtomic(path.join(out, name), bytes);
  }
  await inspect?.(lmm);
  cache?.dispose();
  trainer.dispose();
  lmm.dispose();
  return { state: trainer.state, outputDir: out, skippedRows: skipped + data.badRows, mode };
}
