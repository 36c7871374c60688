/**
 * Every PyTorch-reference fixture (LM: Llama/Mistral/Qwen2 logits and loss; CLIP vision; Whisper encoder; BERT) passes
 * on the Node engine (cpu + onnxruntime for the matmul family): each fixture test file is run in its own
 * process with the engine preloaded (test/helpers/ort-engine-preload.ts), which reports how many products
 * onnxruntime ran.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
// Without the runner's context variable the child prints plain TAP instead of its binary protocol.
const childEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'NODE_TEST_CONTEXT'));

for (const file of ['lm-reference', 'encoders-clip', 'encoders-whisper', 'encoders-bert']) {
  test(`${file} fixtures pass on the onnxruntime engine`, () => {
    const r = spawnSync(process.execPath, [
      '--conditions=source', '--import', 'tsx', '--import', './test/helpers/ort-engine-preload.ts', `test/${file}.test.ts`,
    ], { cwd: root, encoding: 'utf8', timeout: 300_000, env: childEnv });
    const out = `${r.stdout}\n${r.stderr}`;
    assert.equal(r.status, 0, `${file} failed on the engine:\n${out.slice(-4000)}`);
    assert.match(r.stdout, /# fail 0/);
    const runs = Number(/onnxruntime runs: (\d+)/.exec(r.stderr)?.[1] ?? 0);
    assert.ok(runs > 0, `${file}: no product reached onnxruntime (${runs} runs)`);
  });
}
