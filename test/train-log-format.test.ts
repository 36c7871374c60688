import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatDuration, formatEvalLine, formatSummary, formatTrainLine } from '../src/train/log-format.js';
import { lossCurveSVG } from '../src/train/loss-plot.js';

test('durations read like a person would say them', () => {
  assert.deepEqual([0, 9.4, 59.6, 61, 3599, 3600, 7385, -1, NaN].map(formatDuration), ['0s', '9s', '1m00s', '1m01s', '59m59s', '1h00m', '2h03m', '?', '?']);
});

test('a training line has step/total, epoch, loss, lr, grad norm, rows/s, tokens/s, elapsed and ETA', () => {
  const line = formatTrainLine(
    { step: 225, epoch: 0.36, loss: 1.23456, learning_rate: 4.5e-5, grad_norm: 0.8123, tokens_per_second: 1234.5, rows_per_second: 12.34, elapsed_seconds: 185, eta_seconds: 1361 },
    { maxSteps: 1875, numEpochs: 3 },
  );
  assert.equal(line, 'step 225/1875 (12%)  epoch 0.36/3  loss 1.2346  learning_rate 4.50e-5  grad_norm 0.812  rows/s 12.3  tokens/s 1235  elapsed 3m05s  eta 22m41s');
});

test('an evaluation line carries eval loss, exact match with the per-type brief, time and a note', () => {
  const e = {
    step: 500, epoch: 1, eval_loss: 0.81234, eval_samples: 20, eval_runtime: 12.4, eval_samples_per_second: 1.6,
    eval_exact_match: 0.85, eval_exact_match_by_type: { colour: { n: 10, correct: 9, accuracy: 0.9 }, shape: { n: 10, correct: 8, accuracy: 0.8 } },
  };
  assert.equal(formatEvalLine(e, { maxSteps: 1875, numEpochs: 3 }, 'best'), 'eval step 500/1875  epoch 1.00  eval_loss 0.8123  exact_match 85.0% (17/20; colour 90.0%, shape 80.0%)  12.4s (1.60 rows/s)  best');
  const lossOnly = { step: 3, epoch: 0.5, eval_loss: 2, eval_samples: 4, eval_runtime: 0.25, eval_samples_per_second: 16 };
  assert.equal(formatEvalLine(lossOnly, { maxSteps: 6, numEpochs: 1 }), 'eval step 3/6  epoch 0.50  eval_loss 2.0000  0.3s (16.0 rows/s)');
});

test('the summary names wall time, speed, memory, the best metric and where it is', () => {
  assert.deepEqual(
    formatSummary({ steps: 1875, wallSeconds: 2232, rowsPerSecond: 8.4, peakBytes: 1.6 * 2 ** 30, best: { metric: 'eval_exact_match', value: 0.823, step: 1500, checkpoint: '/o/checkpoint-1500', loadedInto: '/o' } }),
    ['trained 1875 steps in 37m12s (8.40 rows/s), peak memory 1.60 GB', 'best eval_exact_match 82.3% at step 1500 (/o/checkpoint-1500); loaded into /o'],
  );
  assert.deepEqual(formatSummary({ steps: 3, wallSeconds: 5, rowsPerSecond: 100, stoppedEarly: 'no improvement', best: { metric: 'eval_loss', value: 0.5, step: 2, checkpoint: '/o/checkpoint-2' } }), [
    'trained 3 steps in 5s (100 rows/s)',
    'stopped early: no improvement',
    'best eval_loss 0.5000 at step 2; saved in /o/checkpoint-2',
  ]);
});

test('the loss plot draws training loss, eval loss with points, accuracy on a right axis in %, a legend and the best step', () => {
  const history = [
    { step: 1, loss: 3 }, { step: 2, loss: 2 }, { step: 2, eval_loss: 2.5, eval_exact_match: 0.25 },
    { step: 3, loss: 1.5 }, { step: 4, loss: 1 }, { step: 4, eval_loss: 1.2, eval_exact_match: 0.75 },
  ];
  const svg = lossCurveSVG(history, { bestStep: 4 });
  const paths = [...svg.matchAll(/<path d="([^"]+)" fill="none" stroke="(#[0-9a-f]+)"/g)].map((m) => [m[2], m[1].split(' ').length]);
  assert.deepEqual(paths, [['#2563eb', 4], ['#ea580c', 2], ['#16a34a', 2]]);
  assert.equal([...svg.matchAll(/<circle /g)].length, 4, 'eval points are marked');
  for (const label of ['train loss', 'eval loss', 'eval exact match', '100%', '0%', 'best (step 4)']) assert.ok(svg.includes(`>${label}<`), label);
  assert.match(svg, /training loss — step 4: 1\.0000, eval 1\.2000, 75\.0% exact/);
  // Accuracy 75% sits at 3/4 of the plot height on the right axis (top 52, height 400-52-40).
  const acc = /stroke="#16a34a" stroke-width="2" stroke-dasharray="6 4"\/>/.test(svg);
  assert.ok(acc);
  const last = /<path d="M[\d.]+,[\d.]+ L[\d.]+,([\d.]+)" fill="none" stroke="#16a34a"/.exec(svg)!;
  assert.equal(Number(last[1]), Number((52 + 308 - 0.75 * 308).toFixed(1)));
  // Without evaluations: one line, no second axis.
  const plain = lossCurveSVG([{ step: 1, loss: 2 }, { step: 2, loss: 1 }]);
  assert.ok(!plain.includes('exact match') && !plain.includes('eval loss'));
});
