/**
 * Learning-rate schedules with linear warmup, as the HF Trainer's `get_scheduler` defines them, so
 * `--lr_scheduler_type cosine --warmup_ratio 0.03` means the same thing here as in the seed's runs.
 * `step` is the number of optimizer steps already taken (0 for the first update).
 */
export type ScheduleType = 'cosine' | 'linear' | 'constant' | 'constant_with_warmup';

export function learningRate(type: ScheduleType, baseLr: number, step: number, totalSteps: number, warmupSteps: number): number {
  if (step < warmupSteps) return (baseLr * step) / Math.max(1, warmupSteps);
  if (type === 'constant' || type === 'constant_with_warmup') return baseLr;
  const progress = (step - warmupSteps) / Math.max(1, totalSteps - warmupSteps);
  if (type === 'linear') return baseLr * Math.max(0, 1 - progress);
  return baseLr * Math.max(0, 0.5 * (1 + Math.cos(Math.PI * progress)));
}

/** HF: `warmup_steps` wins when set; otherwise `ceil(warmup_ratio · total)`. */
export function warmupSteps(totalSteps: number, ratio = 0, steps = 0): number {
  return steps > 0 ? steps : Math.ceil(ratio * totalSteps);
}

export function isScheduleType(s: string): s is ScheduleType {
  return ['cosine', 'linear', 'constant', 'constant_with_warmup'].includes(s);
}
