import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { BestMetric, defaultGreaterIsBetter, metricKey, metricValue } from '../src/train/best-metric.js';
import { shouldEvaluate } from '../src/train/eval-schedule.js';
import { rotateCheckpoints } from '../node/train/checkpoint.js';
import type { EvalLogEntry, TrainerState } from '../src/train/trainer.js';
import { tmpDir } from './helpers/tiny-vector.js';

const state = (): TrainerState => ({ global_step: 0, max_steps: 10, epoch: 0, log_history: [], rng: {} });
const entry = (step: number, loss: number, em?: number): EvalLogEntry => ({
  step,
  epoch: step / 10,
  eval_loss: loss,
  eval_samples: 4,
  eval_runtime: 1,
  eval_samples_per_second: 4,
  ...(em === undefined ? {} : { eval_exact_match: em, eval_exact_match_by_type: { colour: { n: 2, correct: Math.round(em * 2), accuracy: em } } }),
});

test('metric names and directions follow HF: loss → eval_loss, lower is better; accuracies higher', () => {
  assert.equal(metricKey('loss'), 'eval_loss');
  assert.equal(metricKey('eval_exact_match'), 'eval_exact_match');
  assert.equal(defaultGreaterIsBetter('loss'), false);
  assert.equal(defaultGreaterIsBetter('eval_loss'), false);
  assert.equal(defaultGreaterIsBetter('exact_match'), true);
  const e = entry(3, 0.5, 0.5);
  assert.equal(metricValue(e, 'loss'), 0.5);
  assert.equal(metricValue(e, 'exact_match_colour'), 0.5);
  assert.equal(metricValue(e, 'exact_match_shape'), undefined);
});

test('BestMetric: best value, step and checkpoint in the trainer state; patience counts evaluations without improvement', () => {
  const s = state();
  const b = new BestMetric({ metric: 'loss', patience: 2 }, s);
  assert.deepEqual(b.update(entry(1, 2.0)), { value: 2.0, improved: true, stop: false });
  b.saved(1, '/o/checkpoint-1');
  assert.equal(s.best_model_checkpoint, '/o/checkpoint-1');
  assert.deepEqual(b.update(entry(2, 1.5)), { value: 1.5, improved: true, stop: false });
  assert.equal(s.best_model_checkpoint, undefined, 'the new best has no checkpoint until one is saved at its step');
  b.saved(1, '/o/checkpoint-1');
  assert.equal(s.best_model_checkpoint, undefined, 'saving another step does not make it the best');
  b.saved(2, '/o/checkpoint-2');
  assert.deepEqual(b.update(entry(3, 1.6)).stop, false);
  assert.equal(s.evals_without_improvement, 1);
  assert.deepEqual(b.update(entry(4, 1.5)), { value: 1.5, improved: false, stop: true }, 'a tie is no improvement');
  assert.deepEqual([s.best_metric, s.best_global_step, s.best_model_checkpoint], [1.5, 2, '/o/checkpoint-2']);

  // greater_is_better and a threshold: small gains are a new best but do not reset patience.
  const t = state();
  const g = new BestMetric({ metric: 'exact_match', patience: 2, threshold: 0.05 }, t);
  g.update(entry(1, 1, 0.5));
  assert.deepEqual(g.update(entry(2, 1, 0.52)), { value: 0.52, improved: true, stop: false });
  assert.equal(t.evals_without_improvement, 1);
  assert.deepEqual(g.update(entry(3, 1, 0.53)).stop, true);
  assert.throws(() => g.update(entry(4, 1)), /--metric_for_best_model exact_match: the evaluation has no such metric \(available: loss\)/);
});

test('evaluation schedule: every eval_steps, at epoch ends, always the last step, never with "no"', () => {
  const s = { evalSteps: 4, stepsPerEpoch: 3, totalSteps: 10 };
  const when = (strategy: 'no' | 'steps' | 'epoch') => Array.from({ length: 10 }, (_, i) => i + 1).filter((k) => shouldEvaluate(k, { ...s, strategy }));
  assert.deepEqual(when('steps'), [4, 8, 10]);
  assert.deepEqual(when('epoch'), [3, 6, 9, 10]);
  assert.deepEqual(when('no'), []);
});

test('rotateCheckpoints keeps the newest n, never the best one, and the newest even when the best fills the limit', async () => {
  const dir = await tmpDir();
  const make = async (steps: number[]) => {
    for (const k of steps) {
      await mkdir(path.join(dir, `checkpoint-${k}`), { recursive: true });
      await writeFile(path.join(dir, `checkpoint-${k}`, 'trainer_state.json'), '{}');
    }
  };
  const left = async () => (await readdir(dir)).map((n) => Number(n.split('-')[1])).sort((x, y) => x - y);
  await make([1, 2, 3, 4, 5]);
  await rotateCheckpoints(dir, 2, path.join(dir, 'checkpoint-2'));
  assert.deepEqual(await left(), [2, 5]);
  await make([6]);
  await rotateCheckpoints(dir, 1, path.join(dir, 'checkpoint-2'));
  assert.deepEqual(await left(), [2, 6], 'limit 1 with an older best keeps two: the best and the newest');
  await make([7]);
  await rotateCheckpoints(dir, 3);
  assert.deepEqual(await left(), [2, 6, 7]);
  await rotateCheckpoints(dir, 2, path.join(dir, 'checkpoint-7'));
  assert.deepEqual(await left(), [6, 7], 'the best is also the newest');
  await make([8]);
  await rotateCheckpoints(dir, 1, path.join(dir, 'checkpoint-8'));
  assert.deepEqual(await left(), [8], 'limit 1 and the best is the newest: one remains');
  await make([9]);
  await rotateCheckpoints(dir, 0);
  assert.deepEqual(await left(), [8, 9], '0 keeps everything');
});
