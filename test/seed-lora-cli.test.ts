/**
 * A LoRA output folder the Python library wrote (test/fixtures/seed-lora: config.json without our multi_token
 * section, adapter_model.bin, non_lora_trainables.bin) served from the command line, as the seed's README serves
 * one: `serve --model_name_or_path BASE --model_lora_path LORA_DIR`, with the builder options the seed's
 * config does not record given as --modality_options. The answer is checked against the library call on the same
 * folder (greedy, so the texts must be equal).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import '@tensorflow/tfjs-backend-wasm';
import { tf } from '../src/tf.js';
import { installKernelFallbacks } from '../src/backend-fallbacks.js';
import { makeTinyLMFiles, type TinyLMOptions } from '../src/tiny/tiny-lmm.js';
import { loadLMM } from '../src/lmm/load.js';
import { generateBatch } from '../src/lmm/generate.js';
import { writeDirAtomic } from '../node/atomic-write.js';
import { openSource } from '../node/folder-source.js';
import { runCli, waitForLog } from './helpers/seed-cli.js';
import { tmpDir } from './helpers/tiny-vector.js';

await tf.setBackend('wasm');
installKernelFallbacks('wasm');

const FIXTURE = fileURLToPath(new URL('./fixtures/seed-lora/', import.meta.url));
const expected = JSON.parse(readFileSync(path.join(FIXTURE, 'expected.json'), 'utf8')) as { base: { options: TinyLMOptions }; modalityOptions: Record<string, unknown> };

test("serve --model_lora_path <the seed's LoRA folder> --modality_options …: /generate answers as the library does", async () => {
  const base = path.join(await tmpDir(), 'base');
  await writeDirAtomic(base, await makeTinyLMFiles(expected.base.options));
  const messages = [{ role: 'user', content: 'Which is larger, <vector> or <vector>?' }];
  const vectors = [[0.5, -1.25, 0.75, 2, -0.5, 0.25, 1.5, -2], [-1, 0.125, 1.75, -0.75, 0.375, -1.5, 0.625, 1]];
  const lmm = await loadLMM(FIXTURE, { base, open: openSource, modalityOptions: expected.modalityOptions });
  const [want] = await generateBatch(lmm, [{ messages, vectors }], { maxNewTokens: 6, temperature: 0 });
  lmm.dispose();

  const s = runCli(['serve', '--model_name_or_path', base, '--model_lora_path', FIXTURE, '--modality_options', JSON.stringify(expected.modalityOptions),
    '--port', '0', '--temperature', '0', '--max_new_tokens', '6', '--log_requests', 'false'], {});
  try {
    const [, url] = await waitForLog(s, /serving .* at (http:\/\/127\.0\.0\.1:\d+)/);
    const res = await fetch(`${url}/generate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ messages, vectors }) });
    const body = (await res.json()) as { output?: string };
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.equal(body.output, want!.text.trim());
  } finally {
    s.child.kill('SIGTERM');
    await s.done;
  }
});
