/**
 * One training run, end to end, as a list of named steps (training-steps.ts): load the base model and
 * modalities, read and validate the dataset, pick what trains (projectors / LoRA / everything), train with
 * checkpoints, and write the final model folder with a model card and a loss curve. The CLI
 * (`multi-token train`) and tests call this.
 */
import type { LMM } from '../../src/lmm/lmm.js';
import type { TrainerState } from '../../src/train/trainer.js';
import { loadTrainingRows } from './data.js';
import {
  attachCheckpoints,
  attachFeatures,
  featureFingerprint,
  attachLogging,
  buildTrainer,
  checkScheduler,
  loadBaseModel,
  prepareOutputDir,
  train,
  trainMode,
  writeFinalModel,
  type TrainMode,
} from './training-steps.js';
import type { TrainArgs } from './args.js';
import { planEvaluation } from './eval-plan.js';
import { flagNotes } from './flag-notes.js';
import { attachEvaluation, finishEvaluation } from './train-eval.js';

export { trainMode, checkModelCls, type TrainMode } from './training-steps.js';

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
  const scheduler = checkScheduler(args);
  const mode = trainMode(args);
  // Before anything loads: what evaluation will do, and every flag another flag makes meaningless.
  const plan = await planEvaluation(args);
  for (const n of [...plan.notes, ...flagNotes(args, plan.strategy)]) log(`note: ${n}`);
  const lmm = await loadBaseModel(args, log);
  const data = await loadTrainingRows(args.dataset_path, lmm, args.skip_bad_rows, log);
  const { trainer, trainable, loraConfig } = buildTrainer(args, lmm, data, mode, scheduler);
  const out = await prepareOutputDir(args, lmm, trainer, log);
  const cache = attachFeatures(args, lmm, trainer, data.baseDir);
  const save = { mode, loraConfig, data, out, trainArgsJSON: JSON.stringify({ ...args, mode }, null, 2) + '\n' };
  const { progress, reporter, skipped } = attachLogging(args, trainer, out, log);
  const evaluation = await attachEvaluation(plan, args, lmm, trainer, reporter, featureFingerprint(lmm));
  attachCheckpoints(args, lmm, trainer, save, progress, reporter, evaluation);

  const every = plan.strategy === 'steps' ? `every ${plan.evalSteps} steps` : 'every epoch';
  log(
    `training (${mode}): ${data.encoded.length} rows, ${trainer.totalSteps} steps, ${[...trainable.values()].reduce((s, v) => s + v.size, 0)} trainable parameters` +
      (evaluation ? `; evaluating ${evaluation.size.rows} rows ${every}` : ''),
  );
  try {
    await train(trainer, out, progress);
  } catch (e) {
    evaluation?.dispose();
    throw e;
  }
  const ending = await finishEvaluation(evaluation, args, trainer, out, log);
  await reporter.flush();
  await writeFinalModel(args, lmm, trainer, save);
  for (const line of reporter.summary(ending)) log(line);

  await inspect?.(lmm);
  cache?.dispose();
  evaluation?.dispose();
  trainer.dispose();
  lmm.dispose();
  return { state: trainer.state, outputDir: out, skippedRows: skipped() + data.badRows, mode };
}
