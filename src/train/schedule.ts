/**
 * Learning-rate schedules as the HF Trainer's `get_scheduler` defines them (`transformers.optimization`), so
 * `--lr_scheduler_type cosine --warmup_ratio 0.03` means the same thing here as in the seed's runs.
 * `step` is the number of optimizer steps already taken (0 for the first update), as HF's `LambdaLR` sees it.
 * `--lr_scheduler_kwargs` carries the same extra arguments HF takes (`num_cycles`, `power`, `lr_end`, `min_lr`,
 * `min_lr_rate`, `timescale`).
 */
export const SCHEDULE_TYPES = [
  'linear',
  'cosine',
  'cosine_with_restarts',
  'polynomial',
  'constant',
  'constant_with_warmup',
  'inverse_sqrt',
  'cosine_with_min_lr',
] as const;

export type ScheduleType = (typeof SCHEDULE_TYPES)[number];

/** HF's `lr_scheduler_kwargs` for the schedules that take any. */
export type ScheduleKwargs = Record<string, number>;

const ALLOWED_KWARGS: Partial<Record<ScheduleType, string[]>> = {
  cosine: ['num_cycles'],
  cosine_with_restarts: ['num_cycles'],
  polynomial: ['power', 'lr_end'],
  inverse_sqrt: ['timescale'],
  cosine_with_min_lr: ['num_cycles', 'min_lr', 'min_lr_rate'],
};

/** Checks `kwargs` against what HF's schedule function accepts (an unknown key is an error there too). */
export function checkScheduleKwargs(type: ScheduleType, kwargs: ScheduleKwargs, baseLr: number): void {
  const allowed = ALLOWED_KWARGS[type] ?? [];
  for (const [k, v] of Object.entries(kwargs)) {
    if (!allowed.includes(k)) throw new Error(`--lr_scheduler_kwargs: "${k}" is not an argument of the ${type} schedule (it takes: ${allowed.join(', ') || 'none'})`);
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`--lr_scheduler_kwargs: "${k}" must be a number`);
  }
  if (type === 'polynomial' && (kwargs.lr_end ?? 1e-7) > baseLr) throw new Error(`--lr_scheduler_kwargs: lr_end (${kwargs.lr_end ?? 1e-7}) must be smaller than the learning rate (${baseLr})`);
  if (type === 'cosine_with_min_lr' && (kwargs.min_lr === undefined) === (kwargs.min_lr_rate === undefined)) {
    throw new Error('--lr_scheduler_type cosine_with_min_lr needs exactly one of min_lr or min_lr_rate in --lr_scheduler_kwargs');
  }
}

/** The learning rate for the update after `step` optimizer steps. */
export function learningRate(type: ScheduleType, baseLr: number, step: number, totalSteps: number, warmupSteps: number, kwargs: ScheduleKwargs = {}): number {
  // HF's `constant` is the one schedule without warmup (get_constant_schedule).
  if (type === 'constant') return baseLr;
  if (step < warmupSteps) return (baseLr * step) / Math.max(1, warmupSteps);
  if (type === 'constant_with_warmup') return baseLr;
  if (type === 'inverse_sqrt') {
    const timescale = kwargs.timescale ?? (warmupSteps || 10_000);
    const shift = timescale - warmupSteps;
    return baseLr / Math.sqrt((step + shift) / timescale);
  }
  const progress = (step - warmupSteps) / Math.max(1, totalSteps - warmupSteps);
  switch (type) {
    case 'linear':
      return baseLr * Math.max(0, 1 - progress);
    case 'cosine':
      return baseLr * Math.max(0, 0.5 * (1 + Math.cos(Math.PI * (kwargs.num_cycles ?? 0.5) * 2 * progress)));
    case 'cosine_with_restarts': {
      if (progress >= 1) return 0;
      return baseLr * Math.max(0, 0.5 * (1 + Math.cos(Math.PI * (((kwargs.num_cycles ?? 1) * progress) % 1))));
    }
    case 'cosine_with_min_lr': {
      const rate = kwargs.min_lr_rate ?? (kwargs.min_lr ?? 0) / baseLr;
      const f = 0.5 * (1 + Math.cos(Math.PI * (kwargs.num_cycles ?? 0.5) * 2 * progress));
      return baseLr * Math.max(0, f * (1 - rate) + rate);
    }
    case 'polynomial': {
      const lrEnd = kwargs.lr_end ?? 1e-7;
      const power = kwargs.power ?? 1;
      if (step > totalSteps) return lrEnd;
      const remaining = 1 - (step - warmupSteps) / Math.max(1, totalSteps - warmupSteps);
      return (baseLr - lrEnd) * remaining ** power + lrEnd;
    }
  }
}

/** HF: `warmup_steps` wins when set; otherwise `ceil(warmup_ratio · total)`. */
export function warmupSteps(totalSteps: number, ratio = 0, steps = 0): number {
  return steps > 0 ? steps : Math.ceil(ratio * totalSteps);
}

export function isScheduleType(s: string): s is ScheduleType {
  return (SCHEDULE_TYPES as readonly string[]).includes(s);
}
