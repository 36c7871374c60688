/**
 * Training flags through the command line: the seed's `deepspeed scripts/train_model.py …` flags run as they are
 * (each DeepSpeed/GPU-only flag is accepted with one note and changes nothing), and `--save_total_limit` keeps
 * only the newest checkpoints.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import * as path from 'node:path';
import { Command } from 'commander';
import { tf } from '../src/tf.js';
import '@tensorflow/tfjs-backend-wasm';
import { installKernelFallbacks } from '../src/backend-fallbacks.js';
import { registerTrain } from '../node/commands/train.js';
import { IGNORED_FLAGS } from '../node/train/args.js';
import { tmpDir, tinyVectorModel, vectorRows, writeJsonl } from './helpers/tiny-vector.js';
import '../node/index.js';

await tf.setBackend('wasm');
installKernelFallbacks('wasm');
process.env.MULTI_TOKEN_BACKEND = 'wasm';

const model = await tinyVectorModel();
const dataset = await writeJsonl(vectorRows(24));

/** Runs `multi-token train ARGS` in this process; returns what it wrote to stderr. */
async function train(args: string[]): Promise<string> {
  const program = new Command('multi-token').exitOverride();
  registerTrain(program);
  const lines: string[] = [];
  const write = process.stderr.write;
  process.stderr.write = ((chunk: string | Uint8Array) => (lines.push(String(chunk)), true)) as typeof process.stderr.write;
  try {
    await program.parseAsync(['node', 'multi-token', 'train', ...args]);
  } finally {
    process.stderr.write = write;
  }
  return lines.join('');
}

const common = (out: string) => [
  '--model_name_or_path', model, '--dataset_path', dataset, '--output_dir', out,
  '--pretrain_projectors', '--max_steps', '3', '--per_device_train_batch_size', '8', '--learning_rate', '1e-3',
  '--logging_steps', '1', '--no-progress',
];

/** The seed README's DeepSpeed/GPU flags, as its train_model.py command line passes them. */
const SEED_GPU_FLAGS = [
  '--bf16', 'True', '--tf32', 'True', '--gradient_checkpointing', 'True',
  '--save_strategy', 'steps', '--dataloader_num_workers', '2', '--report_to', 'wandb',
  '--deepspeed', './configs/zero2.json',
];
/** Its evaluation flags: real flags here (evaluation during training), which its command line turns off. */
const SEED_EVAL_FLAGS = ['--per_device_eval_batch_size', '1', '--evaluation_strategy', 'no'];

test("the seed's DeepSpeed/GPU flags are accepted, each with one note, and change nothing in the result", async () => {
  const root = await tmpDir();
  const plain = await train(common(path.join(root, 'plain')));
  const seed = await train([...common(path.join(root, 'seed')), ...SEED_GPU_FLAGS, ...SEED_EVAL_FLAGS]);
  const given = SEED_GPU_FLAGS.filter((a) => a.startsWith('--')).map((a) => a.slice(2));
  for (const flag of given) {
    assert.ok(flag in IGNORED_FLAGS, `--${flag} is a known ignored flag`);
    const notes = seed.split('\n').filter((l) => l.startsWith(`[multi-token] --${flag} is ignored here: `));
    assert.equal(notes.length, 1, `one note for --${flag}`);
    assert.ok(notes[0]!.endsWith(IGNORED_FLAGS[flag]!), notes[0]);
  }
  const evalNotes = seed.split('\n').filter((l) => l.startsWith('note: ') && l.includes('eval'));
  assert.deepEqual(evalNotes, ['note: --per_device_eval_batch_size has no effect: evaluation is off (--evaluation_strategy no)']);
  assert.doesNotMatch(plain, /is ignored here|note: /);
  const projectors = async (run: string) => readFile(path.join(root, run, 'non_lora_trainables.safetensors'));
  assert.ok((await projectors('plain')).equals(await projectors('seed')), 'identical trained projectors with and without the flags');
  const losses = async (run: string) => JSON.parse(await readFile(path.join(root, run, 'trainer_state.json'), 'utf8')).log_history.map((e: { loss: number }) => e.loss);
  assert.deepEqual(await losses('seed'), await losses('plain'));
});

test('--save_total_limit keeps the newest checkpoints and says which it removed; 0 keeps them all', async () => {
  const root = await tmpDir();
  const limited = await train([...common(path.join(root, 'limited')), '--max_steps', '5', '--save_steps', '1', '--save_total_limit', '2']);
  const checkpoints = async (run: string) => (await readdir(path.join(root, run))).filter((n) => n.startsWith('checkpoint-')).sort();
  assert.deepEqual(await checkpoints('limited'), ['checkpoint-4', 'checkpoint-5']);
  for (const n of [1, 2, 3]) assert.match(limited, new RegExp(`removed old checkpoint\\(s\\): .*checkpoint-${n}\\b`));
  await train([...common(path.join(root, 'all')), '--save_steps', '1', '--save_total_limit', '0']);
  assert.deepEqual(await checkpoints('all'), ['checkpoint-1', 'checkpoint-2', 'checkpoint-3']);
});
