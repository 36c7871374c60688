import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import * as path from 'node:path';
import { tf } from '../src/tf.js';
import '@tensorflow/tfjs-backend-wasm';
import { installKernelFallbacks } from '../src/backend-fallbacks.js';
import { loadLMM } from '../src/lmm/load.js';
import { listCheckpoints } from '../node/train/checkpoint.js';
import { openSource } from '../node/folder-source.js';
import { tmpDir, tinyVectorModel, vectorRows, writeJsonl } from './helpers/tiny-vector.js';

await tf.setBackend('wasm');
installKernelFallbacks('wasm');

const cli = path.resolve('bin/multi-token.js');

function train(model: string, data: string, out: string, extra: string[] = []) {
  return spawn(process.execPath, [cli, 'train', '--model_name_or_path', model, '--dataset_path', data, '--output_dir', out,
    '--max_steps', '40', '--save_steps', '1', '--per_device_train_batch_size', '4', '--learning_rate', '1e-3', '--logging_steps', '1', '--no-progress', ...extra],
    { stdio: ['ignore', 'ignore', 'pipe'] });
}

test('SIGKILL during a checkpoint write leaves the previous checkpoint loadable, and training resumes', async () => {
  const model = await tinyVectorModel();
  const data = await writeJsonl(vectorRows(16));
  const out = path.join(await tmpDir(), 'run');
  const child = train(model, data, out);
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<void>((r) => child.on('exit', () => r()));
  // Kill the moment a checkpoint is being written (a temp folder exists) once one complete checkpoint exists.
  let killedMidWrite = false;
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline && child.exitCode === null) {
    // Complete checkpoints first, then the folder: a temp folder seen before the count could be the one that
    // became the newest complete checkpoint in between (a race a busy machine loses).
    const complete = await listCheckpoints(out);
    const names = await readdir(out).catch(() => [] as string[]);
    const newest = complete.at(-1)?.step ?? 0;
    const writing = names.some((n) => Number(/^checkpoint-(\d+)\.tmp-/.exec(n)?.[1]) > newest);
    if (complete.length >= 2 && writing) {
      child.kill('SIGKILL');
      killedMidWrite = true;
      break;
    }
    await new Promise((r) => setTimeout(r, 2));
  }
  await exited;
  assert.ok(killedMidWrite, `never caught a checkpoint mid-write:\n${stderr}`);
  const done = await listCheckpoints(out);
  const latest = done[done.length - 1];
  assert.ok(latest, 'a complete checkpoint remains');
  const lmm = await loadLMM(latest.dir, { open: openSource });
  assert.equal(lmm.modalities[0].name, 'vector');
  lmm.dispose();

  const resume = train(model, data, out, ['--resume_from_checkpoint', 'true', '--max_steps', String(latest.step + 2)]);
  let log = '';
  resume.stderr.on('data', (d) => (log += d));
  const code = await new Promise<number | null>((r) => resume.on('exit', r));
  assert.equal(code, 0, log);
  assert.match(log, new RegExp(`resumed from .*checkpoint-${latest.step} at step ${latest.step}`));
  assert.match(log, /half-written checkpoint folder/);
  assert.ok(!(await readdir(out)).some((n) => /\.tmp-/.test(n)));
});
