import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import * as path from 'node:path';
import { tf } from '../src/tf.js';
import '@tensorflow/tfjs-backend-wasm';
import { installKernelFallbacks } from '../src/backend-fallbacks.js';
import { loadLMM } from '../src/lmm/load.js';
import { generateBatch } from '../src/lmm/generate.js';
import { writeDirAtomic } from '../node/atomic-write.js';
import { openSource } from '../node/folder-source.js';
import { tinyFiles } from '../node/commands/make-tiny.js';
import { tmpDir } from './helpers/tiny-vector.js';

await tf.setBackend('wasm');
installKernelFallbacks('wasm');
const run = promisify(execFile);
const cli = path.resolve('bin/multi-token.js');

for (const arch of ['llama', 'mistral', 'qwen2'] as const) {
  test(`make-tiny --arch ${arch}: loads and generates the same text twice`, async () => {
    const dir = path.join(await tmpDir(), arch);
    await writeDirAtomic(dir, await tinyFiles({ out: dir, arch, seed: 3 }));
    const lmm = await loadLMM(dir, { open: openSource });
    assert.equal(lmm.lm.config.modelType, arch);
    const row = { messages: [{ role: 'user', content: 'What shape is red?' }] };
    const a = await generateBatch(lmm, [row], { maxNewTokens: 12 });
    const b = await generateBatch(lmm, [row], { maxNewTokens: 12 });
    assert.deepEqual(a[0].outputIds, b[0].outputIds);
    assert.ok(a[0].outputIds.length > 0);
    lmm.dispose();
  });
}

test('make-tiny is deterministic from --seed', async () => {
  const a = await tinyFiles({ out: '', arch: 'mistral', seed: 9 });
  const b = await tinyFiles({ out: '', arch: 'mistral', seed: 9 });
  assert.deepEqual([...a.keys()], [...b.keys()]);
  for (const [k, v] of a) assert.deepEqual(b.get(k), v, k);
});

test('CLI: make-tiny --lmm then generate --json with --vectors (greedy, deterministic)', async () => {
  const dir = path.join(await tmpDir(), 'lmm');
  await run(process.execPath, [cli, 'make-tiny', '--out', dir, '--arch', 'qwen2', '--lmm', '--modalities', 'vector', '--hidden_size', '32', '--layers', '1']);
  const args = [cli, 'generate', '--model', dir, '--prompt', 'Which is larger, <vector> or <vector>?', '--vectors', JSON.stringify([[1, 2, 3, 4, 5, 6, 7, 8], [0, 0, 0, 0, 0, 0, 0, 0]]), '--max_new_tokens', '6', '--temperature', '0', '--json'];
  const first = JSON.parse((await run(process.execPath, args)).stdout.trim());
  const second = JSON.parse((await run(process.execPath, args)).stdout.trim());
  assert.deepEqual(first, second);
  assert.equal(first.output_ids.length, 6);
  assert.equal(first.prompt_ids.filter((x: number) => x === -1).length, 4, 'two vectors × 2 placeholder tokens');
  assert.equal(typeof first.output, 'string');
  await assert.rejects(run(process.execPath, [cli, 'generate', '--model', dir, '--prompt', 'x', '--images', 'a.png']), (e: { stderr: string }) => {
    assert.match(e.stderr, /unknown option --images; this model's modality inputs are: --vectors/);
    return true;
  });
});
