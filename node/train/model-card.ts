/**
 * The model card (`README.md`) a finished run writes, like the seed's `upload_model.py` / README_TEMPLATE:
 * base model, modalities with their tokens and data keys, dataset, an example row, and how it was trained.
 */
import * as os from 'node:os';
import type { LMM } from '../../src/lmm/lmm.js';
import { isEvalEntry, type LogEntry, type TrainerState } from '../../src/train/trainer.js';
import type { TrainArgs } from './args.js';

export function modelCard(o: { args: TrainArgs; mode: string; lmm: LMM; state: TrainerState; numExamples: number; example: unknown }): string {
  const { args, lmm, state } = o;
  const last = state.log_history.filter((e) => !isEvalEntry(e)).at(-1) as LogEntry | undefined;
  const modalities = lmm.modalities.length
    ? lmm.modalities.map((m) => `* ${m.name} — use \`${m.token}\` in text and provide \`${m.dataKey}\`, encoded as ${m.tokenWidth} tokens`).join('\n')
    : '* none (text only)';
  const exampleText = JSON.stringify(o.example, null, 2);
  // The generate CLI takes each modality's items as --<dataKey>, and the prompt names where they go.
  const itemFlags = lmm.modalities.map((m) => ` --${m.dataKey} ${m.dataKey === 'images' ? 'picture.png' : 'FILE'}`).join('');
  const prompt = lmm.modalities.length ? `Describe ${lmm.modalities.map((m) => m.token).join(' ')}` : '…';
  return `---
license: apache-2.0
base_model: ${args.model_name_or_path}
dataset: ${args.dataset_path}
tags:
  - multimodal
  - multi-token
inference: false
---

These are weights of \`${args.model_name_or_path}\` trained for multimodal use with multi-token (${o.mode}).

### Modalities

${modalities}

### Usage

\`\`\`bash
npx multi-token generate --model ${args.output_dir}${itemFlags} --prompt "${prompt}"
npx multi-token serve --model_name_or_path ${args.output_dir}
\`\`\`

The folder also loads in the Python multi_token library: projectors are in \`non_lora_trainables.bin\`
(and \`.safetensors\`) under the seed's key names${args.lora_enable ? ', the LoRA adapter in PEFT format' : ''}.

### Dataset

${args.dataset_path} (${o.numExamples} examples)

\`\`\`json
${exampleText.length > 2000 ? exampleText.slice(0, 2000) + '\n…' : exampleText}
\`\`\`

### Training

- steps: ${state.global_step}, epochs: ${state.epoch.toFixed(2)}, final loss: ${last ? last.loss.toFixed(4) : 'n/a'}
- learning rate ${args.learning_rate} (${args.lr_scheduler_type}, warmup ratio ${args.warmup_ratio}), batch ${args.per_device_train_batch_size} × accumulation ${args.gradient_accumulation_steps}, model_max_length ${args.model_max_length}
- machine: ${os.cpus()[0]?.model ?? 'unknown CPU'} × ${os.cpus().length}, Node ${process.version}
${evaluationSection(state, args)}
![loss curve](loss.svg)
`;
}

/** The last evaluation (and the best one, when it differs) with the per-question-type table; '' without evaluation. */
function evaluationSection(state: TrainerState, args: TrainArgs): string {
  const evals = state.log_history.filter(isEvalEntry);
  // The evaluation of the weights in this folder: the best one's with --load_best_model_at_end, else the last.
  const last = (args.load_best_model_at_end ? evals.find((e) => e.step === state.best_global_step) : undefined) ?? evals.at(-1);
  if (!last) return '';
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  const lines = [`- evaluation (${args.eval_dataset_path ?? 'held-out split'}, ${last.eval_samples} rows) at step ${last.step}: eval_loss ${last.eval_loss.toFixed(4)}${last.eval_exact_match !== undefined ? `, exact match ${pct(last.eval_exact_match)}` : ''}`];
  if (state.best_metric !== undefined && state.best_global_step !== undefined) {
    const metric = `eval_${(args.metric_for_best_model ?? 'loss').replace(/^eval_/, '')}`;
    const value = metric.includes('exact_match') ? pct(state.best_metric) : state.best_metric.toFixed(4);
    lines.push(`- best ${metric}: ${value} at step ${state.best_global_step}${args.load_best_model_at_end ? ' (the weights in this folder)' : ''}`);
  }
  const byType = Object.entries(last.eval_exact_match_by_type ?? {});
  if (byType.length) {
    lines.push('', '| question type | n | correct | exact match |', '|---|---:|---:|---:|');
    for (const [t, r] of byType) lines.push(`| ${t} | ${r.n} | ${r.correct} | ${pct(r.accuracy)} |`);
  }
  return lines.join('\n') + '\n';
}
