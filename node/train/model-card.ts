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

![loss curve](loss.svg)
`;
}
