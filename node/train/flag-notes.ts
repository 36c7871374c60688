/**
 * No silently ignored flag: every `multi-token train` flag combination where one flag makes another meaningless
 * gets one line at start saying what happens instead. `flagNotes` needs only the arguments; `modelFlagNotes`
 * needs facts about the loaded model (its modalities, an adapter it already has). Combinations that cannot work
 * at all are errors elsewhere (a strategy with no eval set, a projector of another shape).
 *
 * A flag counts as given when its value differs from the default (so `--lora_r 64`, the default, is no news).
 */
import type { LMM } from '../../src/lmm/lmm.js';
import { openSource } from '../folder-source.js';
import { TRAIN_DEFAULTS, type TrainArgs } from './args.js';

type Key = keyof typeof TRAIN_DEFAULTS | 'eval_dataset_path' | 'evaluation_strategy' | 'eval_steps' | 'max_eval_samples' | 'metric_for_best_model' | 'greater_is_better' | 'feature_cache' | 'modality_options' | 'pretrained_projectors_path' | 'resume_from_checkpoint';

/** Whether `--key` was set to something other than its default. */
export function given(args: TrainArgs, key: Key): boolean {
  const v = (args as unknown as Record<string, unknown>)[key];
  const d = (TRAIN_DEFAULTS as unknown as Record<string, unknown>)[key];
  return v !== undefined && v !== d;
}

const flags = (keys: string[]) => keys.map((k) => `--${k}`).join(', ');

const EVAL_FLAGS: Key[] = ['eval_dataset_path', 'eval_steps', 'per_device_eval_batch_size', 'max_eval_samples', 'load_best_model_at_end', 'metric_for_best_model', 'greater_is_better', 'early_stopping_patience', 'early_stopping_threshold'];

/** Notes that follow from the arguments alone. `strategy` is the resolved evaluation strategy. */
export function flagNotes(args: TrainArgs, strategy: 'no' | 'steps' | 'epoch'): string[] {
  const notes: string[] = [];
  if (args.feature_cache && args.train_encoders) {
    notes.push('--feature_cache is not used with --train_encoders: the encoders change every step, so their features cannot be cached');
  }
  const lora = (['lora_r', 'lora_alpha', 'lora_dropout', 'lora_target_modules'] as const).filter((k) => given(args, k));
  if (!args.lora_enable && lora.length) {
    notes.push(`${flags(lora)} ${lora.length > 1 ? 'have' : 'has'} no effect without --lora_enable (no LoRA adapter is trained)`);
  }
  if (args.lora_enable && args.pretrain_projectors) {
    notes.push('--lora_enable has no effect with --pretrain_projectors: only the projectors train (drop --pretrain_projectors to train LoRA adapters and projectors)');
  }
  if (args.warmup_steps > 0 && given(args, 'warmup_ratio')) {
    notes.push(`--warmup_ratio ${args.warmup_ratio} is ignored: --warmup_steps ${args.warmup_steps} takes precedence (as in HF)`);
  }
  if (args.max_steps > 0 && given(args, 'num_train_epochs')) {
    notes.push(`--num_train_epochs ${args.num_train_epochs} is ignored: --max_steps ${args.max_steps} sets the length (as in HF)`);
  }
  if (strategy === 'no') {
    const evalOnly = EVAL_FLAGS.filter((k) => given(args, k));
    if (evalOnly.length) notes.push(`${flags(evalOnly)} ${evalOnly.length > 1 ? 'have' : 'has'} no effect: evaluation is off (--evaluation_strategy no)`);
  } else {
    if (strategy === 'epoch' && given(args, 'eval_steps')) notes.push(`--eval_steps ${args.eval_steps} has no effect with --evaluation_strategy epoch`);
    if (given(args, 'early_stopping_threshold') && !(args.early_stopping_patience > 0)) {
      notes.push('--early_stopping_threshold has no effect without --early_stopping_patience');
    }
  }
  if (args.save_encoders && args.train_encoders) {
    // Works, but worth saying: the two flags do not mean different things together.
    notes.push('--save_encoders is implied by --train_encoders (trained encoders are always saved)');
  }
  return notes;
}

/** What `modelFlagNotes` needs to know about the loaded model. */
export interface ModelFacts {
  /** Path or id of the model, for messages. */
  model: string;
  /** Modality names the model came with (from its config), before --modality_builder. */
  configModalities: string[];
  /** The builder recorded in the model's config, if any. */
  configBuilder?: string;
  /** The LoRA adapter the model already has (loaded, not merged), if any. */
  adapter?: { r: number; alpha: number } | null;
  /** Projector tensors in --pretrained_projectors_path for modalities the model does not have. */
  foreignProjectors?: string[];
}

/** Notes that need the loaded model. */
export function modelFlagNotes(args: TrainArgs, m: ModelFacts): string[] {
  const notes: string[] = [];
  const has = m.configModalities.length > 0;
  if (has && args.modality_builder && args.modality_builder !== m.configBuilder) {
    notes.push(`--modality_builder ${args.modality_builder} is ignored: ${m.model} already has modalities (${m.configModalities.join(', ')})`);
  }
  if (has && args.modality_options) {
    notes.push(`--modality_options is ignored: ${m.model} already has modalities (${m.configModalities.join(', ')}), configured in its config.json`);
  }
  const modalities = has || !!args.modality_builder;
  if (!modalities && args.feature_cache) notes.push('--feature_cache is not used: the model has no modality encoders (text only)');
  if (m.adapter && args.lora_enable) {
    const lora = (['lora_r', 'lora_alpha', 'lora_target_modules'] as const).filter((k) => given(args, k));
    if (lora.length) notes.push(`${flags(lora)} ${lora.length > 1 ? 'are' : 'is'} ignored: ${m.model} already has a LoRA adapter (r=${m.adapter.r}, alpha=${m.adapter.alpha}), which training continues`);
  }
  if (m.foreignProjectors?.length) {
    notes.push(`--pretrained_projectors_path: ${m.foreignProjectors.length} tensor(s) for modalities this model does not have are ignored (e.g. ${m.foreignProjectors[0]})`);
  }
  if (args.pretrained_projectors_path && args.resume_from_checkpoint) {
    notes.push('--pretrained_projectors_path is overridden by --resume_from_checkpoint (the checkpoint holds the projectors trained so far)');
  }
  return notes;
}

/** What flag notes need to know about the model as it was saved (before this run's flags change it). */
export async function readModelFacts(model: string, lmm: LMM): Promise<Omit<ModelFacts, 'foreignProjectors'>> {
  const src = openSource(model);
  // The model loaded already; a file that cannot be read again here only costs a note, never the run.
  const json = async (name: string) => {
    try {
      return (await src.exists(name)) ? (JSON.parse(new TextDecoder().decode(await src.readFile(name))) as Record<string, unknown>) : {};
    } catch {
      return {};
    }
  };
  const config = await json('config.json');
  const section = config.multi_token as { modalities?: unknown[] } | undefined;
  const builder = typeof config.modality_builder === 'string' && config.modality_builder ? config.modality_builder : undefined;
  const configured = !!section?.modalities?.length || !!builder;
  const adapter = lmm.lora ? await json('adapter_config.json') : null;
  return {
    model,
    configModalities: configured ? lmm.modalities.map((m) => m.name) : [],
    configBuilder: builder,
    adapter: adapter ? { r: Number(adapter.r), alpha: Number(adapter.lora_alpha) } : null,
  };
}
