/**
 * When to evaluate during training, with the HF Trainer's `evaluation_strategy`: every `eval_steps` optimizer
 * steps, at the end of each epoch, or never. The last step is always evaluated too (when evaluation is on), so a
 * run ends with a measured model even when the steps do not line up.
 */
export type EvalStrategy = 'no' | 'steps' | 'epoch';

export function isEvalStrategy(s: string): s is EvalStrategy {
  return s === 'no' || s === 'steps' || s === 'epoch';
}

export interface EvalSchedule {
  strategy: EvalStrategy;
  /** For 'steps'. */
  evalSteps: number;
  stepsPerEpoch: number;
  totalSteps: number;
}

/** Whether to evaluate after optimizer step `step` (1-based: the number of steps taken). */
export function shouldEvaluate(step: number, s: EvalSchedule): boolean {
  if (s.strategy === 'no' || step <= 0) return false;
  if (step === s.totalSteps) return true;
  if (s.strategy === 'steps') return s.evalSteps > 0 && step % s.evalSteps === 0;
  return step % s.stepsPerEpoch === 0;
}
