/**
 * The embedded default model (`models/demo`, made by `scripts/make-demo-model.sh`): the README's promises about
 * it hold. Its Node snippet prints the answer its comment shows, the CLI answers about an example image, it
 * stays under the size the repo can ship, and on freshly generated pictures from the held-out regions of scene
 * space (positions and sizes the new recipe never trains on; a seed no recipe used) it answers every question type
 * at least as well as issue #17 asks (FLOORS below: 85% on every type, 90% on colour and shape).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { tf } from '../src/tf.js';
import '@tensorflow/tfjs-backend-wasm';
import { installKernelFallbacks } from '../src/backend-fallbacks.js';
import { runEval } from '../node/commands/eval.js';
import { synthShapes } from '../node/dataset/synth-shapes.js';
import { DEFAULT_HOLDOUT, QUESTION_TYPES } from '../src/data/shapes.js';
import { tmpDir } from './helpers/tiny-vector.js';

const run = promisify(execFile);
const repo = path.resolve('.');
const demo = path.join(repo, 'models/demo');
const cli = path.join(repo, 'bin/multi-token.js');

let scratch = '';
before(async () => {
  await tf.setBackend('wasm');
  installKernelFallbacks('wasm');
  scratch = await tmpDir('mt-demo-model-');
});
after(() => rm(scratch, { recursive: true, force: true }));

/** The first ```js block under "## Using the library" in the README, and the answer its last comment promises. */
async function readmeSnippet(): Promise<{ code: string; expected: string }> {
  const readme = await readFile(path.join(repo, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Using the library'));
  const code = /```js\n([\s\S]*?)```/.exec(section)?.[1];
  assert.ok(code, 'README has a js block under "Using the library"');
  const expected = /console\.log\([^)]*\);\s*\/\/\s*"([^"]+)"/.exec(code)?.[1];
  assert.ok(expected, 'the snippet says what it prints');
  return { code, expected };
}

async function folderBytes(dir: string): Promise<number> {
  let total = 0;
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    total += e.isDirectory() ? await folderBytes(p) : (await stat(p)).size;
  }
  return total;
}

test('models/demo is small enough to ship (≤ 30 MB) and self-contained', async () => {
  const bytes = await folderBytes(demo);
  assert.ok(bytes <= 30 * 1024 * 1024, `models/demo is ${(bytes / 2 ** 20).toFixed(1)} MiB`);
  // The vision encoder ships inside the folder (no base model or encoder to fetch).
  const config = JSON.parse(await readFile(path.join(demo, 'config.json'), 'utf8')) as { multi_token: { modalities: { kind: string; encoder: string }[] } };
  const [vision] = config.multi_token.modalities;
  assert.equal(vision.kind, 'vision_clip');
  for (const f of ['config.json', 'model.safetensors', 'preprocessor_config.json']) {
    await stat(path.join(demo, vision.encoder, f));
  }
});

test("the README's Node snippet prints the answer it promises", { timeout: 180_000 }, async (t) => {
  const { code, expected } = await readmeSnippet();
  // Inside the repo so `import … from 'multi-token'` resolves to this package (self-reference through "exports").
  const dir = path.join(repo, '.cache', `readme-snippet-${process.pid}`);
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, 'snippet.mjs');
  await writeFile(file, code);
  try {
    const { stdout } = await run(process.execPath, ['--conditions=source', '--import', 'tsx', file], {
      cwd: repo,
      env: { ...process.env, MULTI_TOKEN_BACKEND: 'wasm' },
    });
    t.diagnostic(`stdout: ${JSON.stringify(stdout)}`);
    assert.equal(stdout.trim(), expected);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('multi-token generate answers about an example image', { timeout: 180_000 }, async (t) => {
  const { stdout } = await run(
    process.execPath,
    [cli, 'generate', '--model', demo, '--images', path.join(repo, 'examples/blue-square.png'), '--prompt', 'What colour is the shape in <image>?', '--backend', 'wasm'],
    { cwd: repo },
  );
  t.diagnostic(`stdout: ${JSON.stringify(stdout)}`);
  assert.match(stdout, /\bblue\b/i);
});

/**
 * Lowest accuracy per question type this test accepts from the bundled model on held-out-region pictures: issue
 * #17's 85% on every type; colour and shape keep the 90% they had before (both measure 100%). On this sample
 * (seed 2027, 40 questions per type, wasm, greedy; answers worded as the model was trained: kind first, exists and
 * compare explained, exists checking each shape) the bundled model measured caption 90%, colour 100%, shape 100%,
 * count 100%, exists 92.5%, compare 100% (2026-12-03; bench/RESULTS.md "Demo model accuracy", run K).
 */
const FLOORS: Record<string, number> = { colour: 0.9, shape: 0.9, count: 0.85, caption: 0.85, exists: 0.85, compare: 0.85 };

test('all six question types on fresh pictures from the held-out regions: at least the measured floors', { timeout: 900_000 }, async (t) => {
  const out = path.join(scratch, 'fresh-shapes');
  const mix = Object.fromEntries(QUESTION_TYPES.map((q) => [q, 1]));
  await synthShapes({ out, n: 1, nTest: 40 * QUESTION_TYPES.length, seed: 2027, imageSize: 64, mix, holdout: DEFAULT_HOLDOUT, explain: true, kindFirst: true, checkEach: true });
  const r = await runEval({ model: demo, dataset: out, split: 'test_regions', batch_size: 20, max_new_tokens: 24 });
  t.diagnostic(JSON.stringify(r.rows));
  assert.deepEqual(Object.keys(FLOORS).sort(), [...QUESTION_TYPES].sort(), 'a floor for every question type');
  for (const type of QUESTION_TYPES) {
    const row = r.rows.find((x) => x.type === type);
    assert.ok(row && row.n >= 30, `enough ${type} questions (${row?.n})`);
    assert.ok(row.accuracy >= FLOORS[type], `${type}: ${(row.accuracy * 100).toFixed(1)}% of ${row.n}, floor ${FLOORS[type] * 100}%`);
  }
});
