/**
 * `multi-token train` arguments, named as the seed's `scripts/train_model.py` (HF `TrainingArguments` +
 * its own), so the seed README's commands carry over.
 */
export interface TrainArgs {
  model_name_or_path: string;
  model_cls?: string;
  modality_builder?: string;
  /** JSON options for the builder, e.g. '{"encoder": "/models/clip"}'. */
  modality_options?: string;
  dataset_path: string;
  output_dir: string;
  pretrain_projectors: boolean;
  lora_enable: boolean;
  lora_r: number;
  lora_alpha: number;
  lora_dropout: number;
  /** 'all' (every linear layer, as the seed), 'attention' (q/k/v/o), or a comma list of module names. */
  lora_target_modules: string;
  pretrained_projectors_path?: string;
  num_train_epochs: number;
  max_steps: number;
  per_device_train_batch_size: number;
  gradient_accumulation_steps: number;
  model_max_length: number;
  learning_rate: number;
  weight_decay: number;
  warmup_ratio: number;
  warmup_steps: number;
  lr_scheduler_type: string;
  max_grad_norm: number;
  save_steps: number;
  save_total_limit: number;
  logging_steps: number;
  seed: number;
  /** A checkpoint folder, `true` (the newest in output_dir) or `false` (start fresh). Unset: resume when output_dir has checkpoints. */
  resume_from_checkpoint?: string;
  /** Start over even though output_dir holds checkpoints (they are removed). */
  overwrite_output_dir?: boolean;
  /** JSON of HF's `lr_scheduler_kwargs`, e.g. '{"num_cycles": 2}'. */
  lr_scheduler_kwargs?: string;
  /** The hub cache for downloads by id (the seed's `cache_dir`, HF's `cache_dir`); default HF_HUB_CACHE / HF_HOME. */
  cache_dir?: string;
  skip_bad_rows: boolean;
  feature_cache?: string;
  backend?: string;
  /** Write weights as F16/BF16 to halve checkpoint size. */
  save_dtype: 'F32' | 'F16' | 'BF16';
  /** Also finetune the modality encoders (those that support it); disables the feature cache. */
  train_encoders: boolean;
  /** Copy the encoders into the final model folder (always done with train_encoders): a self-contained model. */
  save_encoders: boolean;
  /** Show the progress bar (default: when stderr is a terminal). */
  progress?: boolean;
  /**
   * The seed's QLoRA flag: 4 or 8 loads the frozen base LM quantized (int4/int8, MatMulNBits) while LoRA and
   * projectors train in f32; 16 (the seed's default) = as stored.
   */
  bits?: number;
  /** How the frozen base LM's Linear weights are held (f32, f16, bf16, int8, int4); `--bits 4|8` = int4|int8. */
  dtype?: string;
  /** Held-out rows for evaluation during training (default: the test/validation split of dataset_path). */
  eval_dataset_path?: string;
  /** 'steps' | 'epoch' | 'no'; unset: 'steps' with --eval_steps, 'epoch' with --eval_dataset_path, else 'no'. */
  evaluation_strategy?: string;
  /** Evaluate every n steps (strategy 'steps'); default: logging_steps, as HF. */
  eval_steps?: number;
  per_device_eval_batch_size: number;
  /** Evaluate on the first n held-out rows only (HF example scripts' --max_eval_samples). */
  max_eval_samples?: number;
  /** Put the best checkpoint's weights in output_dir at the end (a checkpoint is saved at every evaluation). */
  load_best_model_at_end: boolean;
  /** 'loss' (default), 'exact_match' or 'exact_match_<question type>'; the 'eval_' prefix is optional. */
  metric_for_best_model?: string;
  /** Default: false for losses, true otherwise (HF). */
  greater_is_better?: boolean;
  /** Stop after this many evaluations without improvement (0 = never). */
  early_stopping_patience: number;
  /** The improvement that counts for early stopping. */
  early_stopping_threshold: number;
}

export const TRAIN_DEFAULTS: Omit<TrainArgs, 'model_name_or_path' | 'dataset_path' | 'output_dir'> = {
  pretrain_projectors: false,
  lora_enable: false,
  lora_r: 64,
  lora_alpha: 16,
  lora_dropout: 0.05,
  lora_target_modules: 'all',
  num_train_epochs: 3,
  max_steps: -1,
  per_device_train_batch_size: 8,
  gradient_accumulation_steps: 1,
  model_max_length: 512,
  learning_rate: 5e-5,
  weight_decay: 0,
  warmup_ratio: 0,
  warmup_steps: 0,
  lr_scheduler_type: 'linear',
  max_grad_norm: 1,
  save_steps: 500,
  save_total_limit: 0,
  logging_steps: 10,
  seed: 42,
  skip_bad_rows: false,
  save_dtype: 'F32',
  train_encoders: false,
  save_encoders: false,
  per_device_eval_batch_size: 8,
  load_best_model_at_end: false,
  early_stopping_patience: 0,
  early_stopping_threshold: 0,
};

/**
 * Flags that only mean something to DeepSpeed / the HF Trainer on GPUs. Accepted so the seed's command lines
 * run unchanged, each with a one-line note that it is ignored here.
 */
export const IGNORED_FLAGS: Record<string, string> = {
  deepspeed: 'no DeepSpeed here (single process)',
  bf16: 'weights train in float32 (use --save_dtype BF16 to save in bf16)',
  fp16: 'weights train in float32 (use --save_dtype F16 to save in fp16)',
  tf32: 'not applicable to tfjs',
  gradient_checkpointing: 'tfjs keeps activations; reduce batch size or model_max_length instead',
  save_strategy: 'checkpoints every --save_steps',
  dataloader_num_workers: 'data loads in-process',
  report_to: 'logs go to train_log.jsonl and loss.svg',
  double_quant: 'int4/int8 here are MatMulNBits blocks with f16 scales (no second quantization of the scales)',
  quant_type: 'int4 here is round-to-nearest MatMulNBits (asymmetric, group 32), not bitsandbytes nf4/fp4',
  remove_unused_columns: 'not applicable',
  optim: 'the optimizer is AdamW (adamw_torch)',
  lora_bias: 'LoRA without bias (PEFT bias="none")',
  lora_weight_path: 'not supported; resume with --resume_from_checkpoint',
  lazy_preprocess: 'rows are tokenised up front',
};
