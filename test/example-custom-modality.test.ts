import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { tf, loadLMM, buildModalities, initProjector, LMM, MemorySource, generateBatch, collate } from 'multi-token';
import { makeTinyLMFiles } from 'multi-token/testing';
import '@tensorflow/tfjs-backend-wasm';
import { installKernelFallbacks } from '../src/backend-fallbacks.js';
import { LunarLanderModality } from '../examples/custom-modality.js';
import { lmmCheckpointFiles } from '../src/lmm/save.js';

await tf.setBackend('wasm');
installKernelFallbacks('wasm');

const toSource = (files: Map<string, Uint8Array | string>) =>
  new MemorySource(new Map([...files].map(([k, v]) => [k, typeof v === 'string' ? new TextEncoder().encode(v) : v])));

test('the README shows examples/custom-modality.ts verbatim', async () => {
  const readme = await readFile('README.md', 'utf8');
  const example = await readFile('examples/custom-modality.ts', 'utf8');
  assert.ok(readme.includes(example.trim()), 'README.md must contain examples/custom-modality.ts unchanged');
});

test('a custom modality registers, trains through the LMM, saves and reloads by kind', async () => {
  const [mod] = await buildModalities('lunar_lander');
  assert.ok(mod instanceof LunarLanderModality);
  const base = await loadLMM(toSource(await makeTinyLMFiles({ arch: 'llama', hiddenSize: 32, numHiddenLayers: 1, seed: 2 })));
  let s = 1;
  const rand = () => ((s = (s * 16807) % 2147483647) / 2147483647);
  const lmm = new LMM(base.lm, base.tokenizer, [mod], [initProjector(mod.projectorSpec, 32, rand)], { modalityBuilder: 'lunar_lander' });
  const row = {
    id: 'step-1',
    messages: [{ role: 'user', content: 'Given <state>, which key?' }, { role: 'assistant', content: 'left' }],
    states: [[0.1, 1.2, 0, -0.5, 0.05, 0, 0, 0]],
  };
  const enc = lmm.encodeRow(row);
  assert.equal(enc.runs[0].width, 4);
  const { batch } = collate([enc], { maxLength: 64, padTokenId: lmm.tokenizer.padTokenId, tokenWidths: lmm.tokenWidths });
  const feats = await lmm.encode(await lmm.preprocess(batch!.items, batch!.ids), batch!.layout, batch!.ids);
  const loss = lmm.loss(batch!, feats, false);
  assert.ok(Number.isFinite(loss.dataSync()[0]));
  // Saved checkpoints name it by kind and reload through registerModalityKind.
  const files = await lmmCheckpointFiles(lmm, { includeLM: true, tokenizerSource: toSource(await makeTinyLMFiles({ arch: 'llama', hiddenSize: 32, numHiddenLayers: 1, seed: 2 })) });
  const config = JSON.parse(files.get('config.json') as string);
  assert.equal(config.multi_token.modalities[0].kind, 'lunar_lander');
  const again = await loadLMM(toSource(files));
  assert.equal(again.modalities[0].token, '<state>');
  const [out] = await generateBatch(again, [{ messages: [{ role: 'user', content: 'Given <state>, which key?' }], states: [[0, 0, 0, 0, 0, 0, 1, 1]] }], { maxNewTokens: 3 });
  assert.equal(out.completionTokens, 3);
  await assert.rejects(generateBatch(again, [{ id: 'bad', messages: [{ role: 'user', content: '<state>' }], states: [[1, 2]] }]), /row "bad": .*states\[0\] must be 8 numbers/);
  lmm.dispose();
  again.dispose();
});
