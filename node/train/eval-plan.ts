/**
 * Which held-out rows to evaluate on during training, and when (HF Trainer flag names). The eval set is
 * `--eval_dataset_path`, else the `test` (or `validation`, …) split of `--dataset_path`. The strategy is
 * `--evaluation_strategy` (`--eval_strategy`, its newer HF name); left unset it follows what was asked for:
 * `steps` with `--eval_steps`, `epoch` with `--eval_dataset_path`, otherwise `no` — with a one-line hint when
 * the dataset has a held-out split that could be used.
 */
import * as path from 'node:path';
import { isEvalStrategy, type EvalStrategy } from '../../src/train/eval-schedule.js';
import { findEvalSplit, type SplitRef } from '../dataset/splits.js';
import type { TrainArgs } from './args.js';

export interface EvalPlan {
  strategy: EvalStrategy;
  /** For `steps`: evaluate every this many optimizer steps (default logging_steps, as HF). */
  evalSteps: number;
  /** The eval set, or null when evaluation is off. */
  source: SplitRef | null;
  notes: string[];
}

export async function planEvaluation(args: TrainArgs): Promise<EvalPlan> {
  const asked = args.evaluation_strategy;
  if (asked !== undefined && !isEvalStrategy(asked)) throw new Error(`--evaluation_strategy must be steps, epoch or no (got ${asked})`);
  const strategy: EvalStrategy = asked ?? (args.eval_steps !== undefined ? 'steps' : args.eval_dataset_path ? 'epoch' : 'no');
  const evalSteps = args.eval_steps ?? args.logging_steps;
  if (strategy === 'steps' && !(evalSteps > 0)) throw new Error(`--eval_steps must be a positive integer (got ${evalSteps})`);
  const notes: string[] = [];
  const split = args.eval_dataset_path ? null : await findEvalSplit(args.dataset_path);
  const source: SplitRef | null = args.eval_dataset_path ? { name: path.basename(args.eval_dataset_path), path: args.eval_dataset_path } : split;
  if (strategy === 'no') {
    if (split && asked === undefined) {
      notes.push(`${args.dataset_path} has a held-out "${split.name}" split; pass --evaluation_strategy epoch (or steps) to evaluate on it during training`);
    }
    return { strategy, evalSteps, source: null, notes };
  }
  if (!source) {
    throw new Error(
      `--evaluation_strategy ${strategy} needs held-out rows: pass --eval_dataset_path, or put test.jsonl (or validation.jsonl) beside ${args.dataset_path}`,
    );
  }
  return { strategy, evalSteps, source, notes };
}
