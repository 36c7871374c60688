/**
 * `multi-token train`: the seed's `scripts/train_model.py` flags (snake_case, HF TrainingArguments names),
 * on tfjs. DeepSpeed/GPU-only flags are accepted and ignored with a note; unknown flags fail with close
 * matches (commander's suggestions).
 */
import { Command, Option } from 'commander';
import { runTraining } from '../train/run-training.js';
import { IGNORED_FLAGS, TRAIN_DEFAULTS, type TrainArgs } from '../train/args.js';
import { HF_NOT_APPLICABLE } from '../train/hf-flags.js';
import { SCHEDULE_TYPES } from '../../src/train/schedule.js';
import { initRuntime } from '../runtime.js';
import { bool, float, int } from './options.js';

export function registerTrain(program: Command): void {
  const d = TRAIN_DEFAULTS;
  const cmd = program
    .command('train')
    .description('pretrain projectors, LoRA-finetune or fully finetune a multimodal model (the seed\'s train_model.py)')
    .requiredOption('--model_name_or_path <dir>', 'base LM (or an LMM checkpoint) folder or URL')
    .requiredOption('--dataset_path <path>', 'JSON, JSONL, or a HF save_to_disk folder in the seed schema')
    .requiredOption('--output_dir <dir>', 'where checkpoints and the final model go')
    .option('--model_cls <name>', 'e.g. MistralLMMForCausalLM; checked against config.json')
    .option('--modality_builder <name>', 'vision_clip, audio_whisper, document_gte, vector, … (see README)')
    .option('--modality_options <json>', 'builder options, e.g. \'{"encoder": "/models/clip-vit-large-patch14-336"}\'')
    .option('--pretrain_projectors [bool]', 'train only the projectors (LM and encoders frozen)', bool, d.pretrain_projectors)
    .option('--lora_enable [bool]', 'train LoRA adapters (and projectors)', bool, d.lora_enable)
    .option('--lora_r <n>', 'LoRA rank', int, d.lora_r)
    .option('--lora_alpha <n>', 'LoRA alpha', float, d.lora_alpha)
    .option('--lora_dropout <p>', 'LoRA dropout', float, d.lora_dropout)
    .option('--lora_target_modules <list>', "'all' (every linear, as the seed), 'attention', or q_proj,v_proj,…", d.lora_target_modules)
    .option('--pretrained_projectors_path <path>', 'non_lora_trainables.{bin,safetensors} (or its folder) from a pretraining run')
    .option('--num_train_epochs <n>', 'epochs', float, d.num_train_epochs)
    .option('--max_steps <n>', 'optimizer steps (overrides epochs when > 0)', int, d.max_steps)
    .option('--per_device_train_batch_size <n>', 'rows per micro-batch', int, d.per_device_train_batch_size)
    .option('--gradient_accumulation_steps <n>', 'micro-batches per optimizer step', int, d.gradient_accumulation_steps)
    .option('--model_max_length <n>', 'truncate rows to this many tokens', int, d.model_max_length)
    .option('--learning_rate <lr>', 'peak learning rate', float, d.learning_rate)
    .option('--weight_decay <wd>', 'AdamW weight decay', float, d.weight_decay)
    .option('--warmup_ratio <r>', 'fraction of steps for linear warmup', float, d.warmup_ratio)
    .option('--warmup_steps <n>', 'warmup steps (overrides the ratio)', int, d.warmup_steps)
    .option('--lr_scheduler_type <type>', SCHEDULE_TYPES.join(' | '), d.lr_scheduler_type)
    .option('--lr_scheduler_kwargs <json>', 'extra schedule arguments as HF takes them, e.g. \'{"num_cycles": 2}\'')
    .option('--max_grad_norm <n>', 'gradient clipping (0 = off)', float, d.max_grad_norm)
    .option('--save_steps <n>', 'checkpoint every n steps (0 = only at the end)', int, d.save_steps)
    .option('--save_total_limit <n>', 'keep at most n checkpoints (0 = all)', int, d.save_total_limit)
    .option('--logging_steps <n>', 'log every n steps', int, d.logging_steps)
    .option('--seed <n>', 'seed for data order, init and dropout', int, d.seed)
    .option('--resume_from_checkpoint <dir|true|false>', 'continue from this checkpoint folder (default: the newest in output_dir, if any)')
    .option('--overwrite_output_dir [bool]', 'start over even if output_dir has checkpoints (they are removed)', bool, false)
    .option('--cache_dir <dir>', 'Hugging Face cache for models named by id (default: HF_HUB_CACHE, HF_HOME/hub, ~/.cache/huggingface/hub)')
    .option('--skip_bad_rows [bool]', 'skip (and report) rows that fail validation instead of stopping', bool, d.skip_bad_rows)
    .option('--feature_cache <dir>', 'cache frozen-encoder features on disk')
    .option('--train_encoders [bool]', 'also finetune the modality encoders (saved into the checkpoint)', bool, d.train_encoders)
    .option('--save_encoders [bool]', 'copy the encoders into the final model folder (self-contained)', bool, d.save_encoders)
    .option('--save_dtype <dtype>', 'F32 | F16 | BF16 weights in saved files', d.save_dtype)
    .option('--bits <n>', 'QLoRA: 4 or 8 loads the frozen base LM as int4/int8 (LoRA and projectors train in f32); 16 = as stored', int)
    .option('--dtype <dtype>', 'how the frozen base LM\'s Linear weights are held: f32 | f16 | bf16 | int8 | int4')
    .option('--no-progress', 'no progress bar (one log line per logging step)')
    .option('--eval_dataset_path <path>', 'held-out rows to evaluate on during training (default: the test/validation split of --dataset_path)')
    .option('--evaluation_strategy <s>', "steps | epoch | no (default: steps with --eval_steps, epoch with --eval_dataset_path, else no)")
    .addOption(new Option('--eval_strategy <s>', 'same as --evaluation_strategy (the newer HF name)').hideHelp())
    .option('--eval_steps <n>', 'evaluate every n steps (default: --logging_steps)', int)
    .option('--per_device_eval_batch_size <n>', 'rows per evaluation batch', int, d.per_device_eval_batch_size)
    .option('--max_eval_samples <n>', 'evaluate on the first n held-out rows only', int)
    .option('--load_best_model_at_end [bool]', 'put the best checkpoint in output_dir at the end (saves a checkpoint at every evaluation)', bool, d.load_best_model_at_end)
    .option('--metric_for_best_model <name>', 'loss (default), exact_match or exact_match_<question type>')
    .option('--greater_is_better [bool]', 'default: false for loss, true for exact_match', bool)
    .option('--early_stopping_patience <n>', 'stop after n evaluations without improvement (0 = never)', int, d.early_stopping_patience)
    .option('--early_stopping_threshold <x>', 'how much the metric must improve to count', float, d.early_stopping_threshold)
    .option('--backend <name>', 'tfjs backend (default: best available)');
  // A flag this command implements is never "ignored", even if a list of HF flags names it.
  const real = new Set(cmd.options.map((o) => o.attributeName()));
  const ignored: Record<string, string> = Object.fromEntries(Object.entries({ ...HF_NOT_APPLICABLE, ...IGNORED_FLAGS }).filter(([f]) => !real.has(f)));
  for (const [flag, why] of Object.entries(ignored)) cmd.addOption(new Option(`--${flag} [value]`, `ignored here: ${why}`).hideHelp());
  cmd.action(async (raw: Record<string, unknown>) => {
    for (const flag of Object.keys(ignored)) {
      if (raw[flag] !== undefined) process.stderr.write(`[multi-token] --${flag} is ignored here: ${ignored[flag]}\n`);
    }
    if (raw.eval_strategy !== undefined) {
      if (raw.evaluation_strategy !== undefined && raw.evaluation_strategy !== raw.eval_strategy) {
        throw new Error(`--eval_strategy ${String(raw.eval_strategy)} and --evaluation_strategy ${String(raw.evaluation_strategy)} disagree (they are one setting)`);
      }
      raw.evaluation_strategy = raw.eval_strategy;
      delete raw.eval_strategy;
    }
    const args = raw as unknown as TrainArgs;
    if (!['F32', 'F16', 'BF16'].includes(args.save_dtype)) throw new Error('--save_dtype must be F32, F16 or BF16');
    // As `from_pretrained(cache_dir=…)`: downloads by Hugging Face id go to (and are looked for in) this cache.
    if (args.cache_dir) process.env.HF_HUB_CACHE = args.cache_dir;
    await initRuntime({ backend: args.backend });
    const r = await runTraining(args);
    process.stderr.write(`done: ${r.state.global_step} steps (${r.mode}); model in ${r.outputDir}${r.skippedRows ? `; ${r.skippedRows} row(s) skipped` : ''}\n`);
  });
}
