/**
 * The files of a run trained in the tab, named and laid out as `multi-token train` writes them, so the
 * download loads with `loadLMM(folder, { base })`, `multi-token generate|serve --model_lora_path`, and the
 * Python library (PEFT adapter + `non_lora_trainables.bin`):
 *
 * - checkpoints (browser storage): config.json, non_lora_trainables.{safetensors,bin}, the PEFT adapter for
 *   LoRA, trainer_state.json, training_args.json (+ optimizer.safetensors, added by the session);
 * - the result (download): the same plus the tokenizer files, the vision encoder (so the folder does not
 *   depend on where the page loaded the model from), train_log.jsonl, loss.svg and a model card.
 */
import type { LMM } from '../../../src/lmm/lmm.js';
import type { ModelSource } from '../../../src/io/source.js';
import { lmmCheckpointFiles } from '../../../src/lmm/save.js';
import { lossCurveSVG } from '../../../src/train/loss-plot.js';
import { trainEntries, type Trainer } from '../../../src/train/trainer.js';
import type { TrainExample } from './examples.js';
import { loraConfigOf, type TrainSettings } from './run-store.js';

/** `training_args.json` under the CLI's flag names, so a run can be repeated with `multi-token train`. */
function trainingArgs(s: TrainSettings, location: string, rows: number, trainer: Trainer): string {
  const lora = s.mode === 'lora' ? loraConfigOf(s) : null;
  const c = trainer.config;
  return JSON.stringify({
    model_name_or_path: location,
    dataset_path: `(${rows} examples in a browser tab)`,
    pretrain_projectors: s.mode === 'projector',
    lora_enable: s.mode === 'lora',
    ...(lora ? { lora_r: lora.r, lora_alpha: lora.loraAlpha, lora_dropout: lora.loraDropout, lora_target_modules: 'all' } : {}),
    max_steps: c.maxSteps,
    per_device_train_batch_size: c.batchSize,
    gradient_accumulation_steps: c.gradientAccumulationSteps,
    learning_rate: c.learningRate,
    weight_decay: c.weightDecay,
    lr_scheduler_type: c.scheduler,
    max_grad_norm: c.maxGradNorm,
    model_max_length: c.modelMaxLength,
    seed: c.seed,
    mode: s.mode === 'lora' ? 'lora' : 'pretrain_projectors',
    trained_in: 'browser',
  }, null, 2) + '\n';
}

function state(trainer: Trainer): string {
  return JSON.stringify(trainer.state, null, 2) + '\n';
}

/** A checkpoint's files (without the optimizer state). */
export async function checkpointFiles(lmm: LMM, trainer: Trainer, s: TrainSettings, location: string, rows: number): Promise<Map<string, Uint8Array | string>> {
  const files = await lmmCheckpointFiles(lmm, { lora: s.mode === 'lora' ? loraConfigOf(s) : undefined });
  files.set('trainer_state.json', state(trainer));
  files.set('training_args.json', trainingArgs(s, location, rows, trainer));
  return files;
}

function modelCard(lmm: LMM, trainer: Trainer, s: TrainSettings, location: string, examples: readonly TrainExample[]): string {
  const last = trainEntries(trainer.state.log_history).at(-1);
  const what = s.mode === 'lora' ? `LoRA (rank ${s.rank}, alpha ${2 * s.rank}, every linear layer) and the projector` : 'the projector only (language model and encoder frozen)';
  const sample = examples.find((e) => e.qa)?.qa;
  const base = location.replace(/\/+$/, '');
  return `---
library_name: multi-token
base_model: ${base}
tags: [multi-token, multimodal, lmm, trained-in-browser]
---

# Finetuned in a browser tab

Trained with the multi-token demo page on ${examples.length} example(s) that never left the browser:
${what}, ${trainer.state.global_step} steps, learning rate ${s.learningRate}, batch ${trainer.config.batchSize}` +
    `${last ? `, final loss ${last.loss.toFixed(4)}` : ''}.

Base model: \`${base}\`. Modalities: ${lmm.modalities.map((m) => `${m.name} (\`${m.token}\`, \`${m.dataKey}\`)`).join(', ')}.
The vision encoder is included in \`${lmm.modalities.map((m) => `${m.name}_encoder/`).join(', ')}\`; the language model is not.

\`\`\`bash
npx multi-token generate --model_name_or_path BASE_MODEL_FOLDER --model_lora_path . \\
  --images picture.png --prompt "${sample ? `<image>\\n${sample.question.replace(/"/g, '\\"')}` : 'Describe <image>'}"
\`\`\`

\`\`\`js
const lmm = await loadLMM('this-folder', { base: 'BASE_MODEL_FOLDER' });
\`\`\`
`;
}

/** Everything the download holds. */
export async function resultFiles(
  lmm: LMM,
  trainer: Trainer,
  s: TrainSettings,
  location: string,
  examples: readonly TrainExample[],
  source: ModelSource,
): Promise<Map<string, Uint8Array | string>> {
  const files = await lmmCheckpointFiles(lmm, {
    lora: s.mode === 'lora' ? loraConfigOf(s) : undefined,
    tokenizerSource: source,
    exportEncoders: true,
  });
  files.set('trainer_state.json', state(trainer));
  files.set('training_args.json', trainingArgs(s, location, examples.length, trainer));
  files.set('train_log.jsonl', trainer.state.log_history.map((e) => JSON.stringify(e) + '\n').join(''));
  files.set('loss.svg', lossCurveSVG(trainer.state.log_history));
  files.set('README.md', modelCard(lmm, trainer, s, location, examples));
  return files;
}
