/**
 * Training like the seed's Trainer: re-running the same `train` command into an output_dir with checkpoints
 * resumes from the newest (killed mid-run, it ends on the uninterrupted run's loss trajectory);
 * `--overwrite_output_dir` starts over; HF TrainingArguments flags that do not apply are accepted with a note;
 * a `--bits` value other than 4, 8 or 16 is refused before loading; the extra LR schedules follow HF's formulas.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { listCheckpoints } from '../node/train/checkpoint.js';
import { runTraining } from '../node/train/run-training.js';
import { TRAIN_DEFAULTS } from '../node/train/args.js';
import { selectNodeBackend } from '../node/backend.js';
import { learningRate, checkScheduleKwargs } from '../src/train/schedule.js';
import { tmpDir, tinyVectorModel, vectorRows, writeJsonl } from './helpers/tiny-vector.js';

// The in-process runs below must compute exactly as the CLI does (same backend and matmul engine), since their
// losses are compared with the CLI's to the last bit.
await selectNodeBackend({ quiet: true });

const cli = path.resolve('bin/multi-token.js');

function train(args: string[]) {
  const child = spawn(process.execPath, [cli, 'train', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr.on('data', (d) => (log += d));
  const done = new Promise<{ code: number | null; log: string }>((r) => child.on('exit', (code) => r({ code, log })));
  return { child, done };
}

async function losses(out: string): Promise<[number, number][]> {
  const state = JSON.parse(await readFile(path.join(out, 'trainer_state.json'), 'utf8')) as { log_history: { step: number; loss: number }[] };
  return state.log_history.map((e) => [e.step, e.loss]);
}

test('kill `train`, re-run the same command: it resumes from the newest checkpoint and ends on the same loss trajectory', async () => {
  const model = await tinyVectorModel();
  const data = await writeJsonl(vectorRows(16));
  const root = await tmpDir();
  const cmd = (out: string) => ['--model_name_or_path', model, '--dataset_path', data, '--output_dir', out, '--lora_enable', 'True',
    '--lora_r', '4', '--lora_dropout', '0.1', '--max_steps', '10', '--save_steps', '2', '--per_device_train_batch_size', '4',
    '--learning_rate', '1e-3', '--logging_steps', '1', '--lr_scheduler_type', 'cosine_with_restarts', '--lr_scheduler_kwargs', '{"num_cycles": 2}',
    '--warmup_ratio', '0.1', '--no-progress', '--run_name', 'x', '--report_to', 'wandb', '--logging_dir', 'logs', '--bits', '16'];
  const full = path.join(root, 'full');
  const a = await train(cmd(full)).done;
  assert.equal(a.code, 0, a.log);
  for (const f of ['run_name', 'report_to', 'logging_dir']) assert.match(a.log, new RegExp(`--${f} is ignored here: `), f);

  const out = path.join(root, 'killed');
  const b = train(cmd(out));
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline && b.child.exitCode === null && (await listCheckpoints(out)).length < 2) await new Promise((r) => setTimeout(r, 20));
  b.child.kill('SIGKILL');
  await b.done;
  const left = await listCheckpoints(out);
  assert.ok(left.length >= 1 && left[left.length - 1]!.step < 10, `killed before the end: ${left.map((c) => c.step)}`);

  const again = await train(cmd(out)).done;
  assert.equal(again.code, 0, again.log);
  assert.match(again.log, new RegExp(`resuming from the newest, checkpoint-${left[left.length - 1]!.step}`));
  assert.deepEqual(await losses(out), await losses(full), 'same steps, same losses');

  // --overwrite_output_dir starts over (the old checkpoints go) on the same trajectory; another kind of run into the
  // folder is refused rather than silently continued; --bits 3 is refused (4 and 8 are QLoRA, test/train-qlora). (In-process: the
  // command line is the same runTraining.)
  const quiet = () => {};
  const base = { ...TRAIN_DEFAULTS, model_name_or_path: model, dataset_path: data, output_dir: out, lora_enable: true, lora_r: 4, lora_dropout: 0.1,
    max_steps: 10, save_steps: 2, per_device_train_batch_size: 4, learning_rate: 1e-3, logging_steps: 1, lr_scheduler_type: 'cosine_with_restarts',
    lr_scheduler_kwargs: '{"num_cycles": 2}', warmup_ratio: 0.1, progress: false };
  const notes: string[] = [];
  await runTraining({ ...base, overwrite_output_dir: true }, (l) => notes.push(l));
  assert.match(notes.join('\n'), /--overwrite_output_dir: starting over; removed \d+ old checkpoint/);
  assert.deepEqual(await losses(out), await losses(full));
  await assert.rejects(runTraining({ ...base, lora_enable: false, pretrain_projectors: true }, quiet), /holds checkpoints of a lora run .* this is a pretrain_projectors run: pass --overwrite_output_dir/);
  await assert.rejects(runTraining({ ...base, output_dir: path.join(root, 'q'), bits: 3 }, quiet), /--bits must be 4, 8 or 16, got 3/);
});

test("LR schedules follow HF's get_scheduler formulas", () => {
  const lr = 1e-3;
  const at = (type: Parameters<typeof learningRate>[0], step: number, kw = {}) => learningRate(type, lr, step, 100, 10, kw);
  // constant has no warmup in HF; constant_with_warmup does.
  assert.equal(at('constant', 0), lr);
  assert.equal(at('constant_with_warmup', 5), lr / 2);
  // cosine_with_restarts, 2 cycles: restarts at progress 0.5 (step 55).
  assert.equal(at('cosine_with_restarts', 10, { num_cycles: 2 }), lr);
  assert.ok(Math.abs(at('cosine_with_restarts', 54, { num_cycles: 2 }) - lr * 0.5 * (1 + Math.cos(Math.PI * ((2 * 44) / 90)))) < 1e-15);
  assert.equal(at('cosine_with_restarts', 55, { num_cycles: 2 }), lr);
  assert.equal(at('cosine_with_restarts', 100, { num_cycles: 2 }), 0);
  // polynomial: (lr − lr_end)·(1 − progress)^power + lr_end.
  assert.ok(Math.abs(at('polynomial', 55, { power: 2, lr_end: 1e-5 }) - ((lr - 1e-5) * 0.25 + 1e-5)) < 1e-15);
  assert.equal(at('polynomial', 101), 1e-7);
  assert.ok(Math.abs(at('linear', 55) - lr / 2) < 1e-15);
  assert.ok(Math.abs(at('inverse_sqrt', 40) - lr / Math.sqrt(40 / 10)) < 1e-15);
  assert.ok(Math.abs(at('cosine_with_min_lr', 100, { min_lr_rate: 0.1 }) - lr * 0.1) < 1e-15);
  assert.throws(() => checkScheduleKwargs('polynomial', { cycles: 1 }, lr), /"cycles" is not an argument of the polynomial schedule/);
  assert.throws(() => checkScheduleKwargs('polynomial', { lr_end: 1 }, lr), /lr_end .* must be smaller/);
});
