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
  new MemorySource(files);

test('the README shows examples/custom-modality.ts verbatim', async () => {
  const readme = await readFile('README.md', 'utf8');
  const example = await readFile('examples/custom-modality.ts', 'utf8');
  assert.ok(readme.includes(example.trim()), 'README.md must contain examples/custom-modality.ts unchanged');
});

test('a custom modality registers, trains (the loss falls and answers follow the states), saves and reloads by kind with the trained weights', async () => {
  const [mod] = await buildModalities('lunar_lander');
  assert.ok(mod instanceof LunarLanderModality);
  const lmFiles = await makeTinyLMFiles({ arch: 'llama', hiddenSize: 32, numHiddenLayers: 1, seed: 2 });
  const base = await loadLMM(toSource(lmFiles));
  let s = 1;
  const rand = () => ((s = (s * 16807) % 2147483647) / 2147483647);
  const lmm = new LMM(base.lm, base.tokenizer, [mod], [initProjector(mod.projectorSpec, 32, rand)], { modalityBuilder: 'lunar_lander' });
  // The rows differ only in their state (which side the lander drifts to), so answering right needs the modality.
  const rows = Array.from({ length: 8 }, (_, i) => ({
    id: `step-${i}`,
    messages: [{ role: 'user', content: 'Given <state>, which key?' }, { role: 'assistant', content: i % 2 ? 'left' : 'right' }],
    states: [[i % 2 ? 1.2 : -1.2, 1.0, i % 2 ? 4 : -4, -0.5, 0.05 * i, 0, 0, 0]],
  }));
  const encoded = rows.map((r, i) => lmm.encodeRow(r, {}, i));
  assert.equal(encoded[0]!.runs[0]!.width, 4);
  const { batch } = collate(encoded, { maxLength: 64, padTokenId: lmm.tokenizer.padTokenId, tokenWidths: lmm.tokenWidths });
  const features = await lmm.encode(await lmm.preprocess(batch!.items, batch!.ids), batch!.layout, batch!.ids);
  const params = [...lmm.projectorParameters().values(), ...lmm.lm.parameters().values()];
  for (const p of params) p.trainable = true;
  const projectorBefore = [...lmm.projectorParameters().values()].map((v) => v.dataSync().slice());
  const optimizer = tf.train.adam(1e-2);
  const losses: number[] = [];
  for (let step = 0; step < 60; step++) {
    const cost = optimizer.minimize(() => lmm.loss(batch!, features, true) as tf.Scalar, true, params)!;
    losses.push(cost.dataSync()[0]!);
    cost.dispose();
  }
  const [first, last] = [losses[0]!, losses.at(-1)!];
  assert.ok(last < first * 0.25, `loss ${first.toFixed(3)} → ${last.toFixed(3)}`);
  [...lmm.projectorParameters().values()].forEach((v, i) => assert.notDeepEqual(v.dataSync(), projectorBefore[i], 'the projector trained'));
  const ask = (r: (typeof rows)[number]) => ({ messages: r.messages.slice(0, 1), states: r.states });
  const answers = await generateBatch(lmm, rows.slice(0, 4).map(ask), { maxNewTokens: 4 });
  assert.deepEqual(answers.map((a) => a.text.trim()), ['right', 'left', 'right', 'left'], 'answers follow the state');

  // Saved checkpoints name it by kind, and reload through registerModalityKind with the trained projector.
  const files = await lmmCheckpointFiles(lmm, { includeLM: true, tokenizerSource: toSource(lmFiles) });
  const config = JSON.parse(files.get('config.json') as string);
  assert.equal(config.multi_token.modalities[0].kind, 'lunar_lander');
  const again = await loadLMM(toSource(files));
  assert.equal(again.modalities[0]!.token, '<state>');
  for (const [name, v] of lmm.projectorParameters()) {
    assert.deepEqual(again.projectorParameters().get(name)!.dataSync(), v.dataSync(), `${name} reloads as trained`);
  }
  const reloaded = again.loss(batch!, features, false).dataSync()[0]!;
  assert.ok(Math.abs(reloaded - lmm.loss(batch!, features, false).dataSync()[0]!) < 1e-6, 'the reloaded model has the trained loss');
  const [out] = await generateBatch(again, [{ messages: [{ role: 'user', content: 'Given <state>, which key?' }], states: [[0, 0, 0, 0, 0, 0, 1, 1]] }], { maxNewTokens: 3 });
  assert.equal(out!.completionTokens, 3);
  await assert.rejects(generateBatch(again, [{ id: 'bad', messages: [{ role: 'user', content: '<state>' }], states: [[1, 2]] }]), /row "bad": .*states\[0\] must be 8 numbers/);
  for (const f of features) f?.dispose();
  lmm.dispose();
  again.dispose();
});
