/**
 * `multi-token generate`: one prompt (plus modality items) through a checkpoint, streamed to stdout, or one
 * JSON line with ids and text (`--json`). Modality items are passed as `--<dataKey> a,b` (`--images`,
 * `--vectors '[[…]]'`, `--speech_audios a.wav`, `--documents doc.txt`).
 */
import type { Command } from 'commander';
import { loadLMM } from '../../src/lmm/load.js';
import { streamGenerate } from '../../src/lmm/generate.js';
import type { LMM } from '../../src/lmm/lmm.js';
import type { ChatRow } from '../../src/chat/encode-chat.js';
import { openSource } from '../folder-source.js';
import { localLoader } from '../media-local.js';
import { initRuntime } from '../runtime.js';
import { float, int, parseJsonOption } from './options.js';
import { appendAll } from '../../src/util/arrays.js';
import { DTYPE_HELP, dtypeOption } from './dtype-option.js';
import type { WeightDType } from '../../src/nn/frozen-weight.js';

export interface GenerateCliOptions {
  model?: string;
  model_name_or_path?: string;
  modality_options?: string;
  model_lora_path?: string;
  prompt: string;
  system?: string;
  max_new_tokens: number;
  temperature: number;
  top_p?: number;
  top_k?: number;
  repetition_penalty?: number;
  seed: number;
  json?: boolean;
  backend?: string;
  dtype?: WeightDType;
}

/** Parses `--<dataKey> value` pairs left over by commander into modality items. */
export function modalityItems(lmm: LMM, extra: string[]): Record<string, unknown[]> {
  const items: Record<string, unknown[]> = {};
  const keys = new Map(lmm.modalities.map((m) => [m.dataKey, m]));
  for (let i = 0; i < extra.length; i++) {
    const flag = extra[i];
    if (!flag.startsWith('--')) throw new Error(`unexpected argument "${flag}"`);
    const [name, inline] = flag.slice(2).split(/=(.*)/s, 2);
    const value = inline ?? extra[++i];
    if (!keys.has(name)) {
      throw new Error(`unknown option --${name}; this model's modality inputs are: ${[...keys.keys()].map((k) => `--${k}`).join(', ') || 'none'}`);
    }
    if (value === undefined) throw new Error(`--${name} needs a value`);
    const trimmed = value.trim();
    // A JSON array (vectors, or a list with commas inside items) or a comma-separated list of paths/URLs.
    const parsed: unknown[] = trimmed.startsWith('[') ? JSON.parse(trimmed) : trimmed.split(',').map((s) => s.trim()).filter(Boolean);
    appendAll((items[name] ??= []), parsed);
  }
  return items;
}

/** The user turn: the prompt, with modality tokens prepended for items the prompt does not place itself. */
export function buildRow(lmm: LMM, prompt: string, items: Record<string, unknown[]>, system?: string): ChatRow {
  let content = prompt;
  for (const m of lmm.modalities) {
    const n = items[m.dataKey]?.length ?? 0;
    const present = content.split(m.token).length - 1;
    if (n > present && present === 0) {
      content = `${`${m.token}\n`.repeat(n)}${content}`;
      process.stderr.write(`[multi-token] prompt had no ${m.token}; placed ${n} before the text\n`);
    }
  }
  const messages = [...(system ? [{ role: 'system', content: system }] : []), { role: 'user', content }];
  return { id: 'prompt', messages, ...items };
}

export function registerGenerate(program: Command): void {
  program
    .command('generate')
    .description('answer one prompt (text plus modality items) with a checkpoint')
    .option('--model <dir>', 'checkpoint folder, URL or Hugging Face id (org/name[@rev])')
    .option('--model_name_or_path <dir>', 'the same as --model (the seed\'s name)')
    .option('--model_lora_path <dir>', "the seed's LoRA output folder, applied on --model")
    .option('--modality_options <json>', 'builder options for a checkpoint without our multi_token section (the seed\'s), e.g. \'{"encoder": "openai/clip-vit-large-patch14-336"}\'')
    .requiredOption('--prompt <text>', 'the user message; put <image> etc. where items go')
    .option('--system <text>', 'system message')
    .option('--max_new_tokens <n>', 'tokens to generate', int, 128)
    .option('--temperature <t>', '0 = greedy', float, 0)
    .option('--top_p <p>', 'nucleus sampling', float)
    .option('--top_k <k>', 'top-k sampling', int)
    .option('--repetition_penalty <r>', 'penalty on repeated tokens', float)
    .option('--seed <n>', 'sampling seed', int, 0)
    .option('--json', 'print one JSON line {prompt_ids, output_ids, output}')
    .option('--backend <name>', 'tfjs backend (default: best available)')
    .option('--dtype <dtype>', DTYPE_HELP, dtypeOption)
    .allowUnknownOption(true)
    .allowExcessArguments(true)
    .action(async (o: GenerateCliOptions, cmd: Command) => {
      const model = o.model ?? o.model_name_or_path;
      if (!model) throw new Error('generate: pass --model (or --model_name_or_path): a checkpoint folder, URL or Hugging Face id');
      const modalityOptions = parseJsonOption<Record<string, unknown>>(o.modality_options, '--modality_options');
      await initRuntime({ backend: o.backend });
      const lmm = o.model_lora_path
        ? await loadLMM(o.model_lora_path, { base: model, open: openSource, modalityOptions, dtype: o.dtype })
        : await loadLMM(model, { open: openSource, modalityOptions, dtype: o.dtype });
      const row = buildRow(lmm, o.prompt, modalityItems(lmm, cmd.args), o.system);
      const it = streamGenerate(lmm, [row], {
        maxNewTokens: o.max_new_tokens,
        temperature: o.temperature,
        topP: o.top_p,
        topK: o.top_k,
        repetitionPenalty: o.repetition_penalty,
        seed: o.seed,
        preprocess: { loadBytes: localLoader() },
      });
      for (;;) {
        const r = await it.next();
        if (r.done) {
          const g = r.value[0];
          if (o.json) process.stdout.write(JSON.stringify({ prompt_ids: g.promptIds, output_ids: g.outputIds, output: g.text }) + '\n');
          else process.stdout.write('\n');
          break;
        }
        if (!o.json) process.stdout.write(r.value.deltas[0]);
      }
      lmm.dispose();
    });
}
