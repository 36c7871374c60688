import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../src/tf.js';
import { MemorySource } from '../src/io/source.js';
import { loadLMM } from '../src/lmm/load.js';
import { collate } from '../src/data/collate.js';
import { generateBatch } from '../src/lmm/generate.js';
import { makeTinyLMMFiles } from '../src/tiny/tiny-lmm.js';
import { Rng } from '../src/util/rng.js';
import type { ChatRow } from '../src/chat/encode-chat.js';

import '@tensorflow/tfjs-backend-wasm';
import { installKernelFallbacks } from '../src/backend-fallbacks.js';
await tf.setBackend('wasm');
installKernelFallbacks('wasm');

function toSource(files: Map<string, Uint8Array | string>) {
  return new MemorySource(files);
}

/** "Which vector is larger?" — answerable only by looking at the spliced vectors. */
function makeRows(n: number, seed: number): ChatRow[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, (_, i) => {
    const a = Array.from({ length: 4 }, () => rng.next() * 2 - 1);
    const b = Array.from({ length: 4 }, () => rng.next() * 2 - 1);
    const sum = (v: number[]) => v.reduce((s, x) => s + x, 0);
    return {
      id: `q${i}`,
      messages: [
        { role: 'user', content: 'Which is larger, <vector> or <vector>?' },
        { role: 'assistant', content: sum(a) > sum(b) ? 'first' : 'second' },
      ],
      vectors: [a, b],
    };
  });
}

test('vector modality end to end: loading, training lowers the loss, generation reads the vectors', async () => {
  const files = await makeTinyLMMFiles({
    arch: 'qwen2',
    hiddenSize: 32,
    intermediateSize: 64,
    numHiddenLayers: 2,
    seed: 3,
    modalities: [{ kind: 'vector', name: 'vector', token: '<vector>', dataKey: 'vectors', dim: 4, numTokens: 2, projectorLayers: 2 }],
  });
  assert.ok(files.has('non_lora_trainables.safetensors') && files.has('non_lora_trainables.bin'));
  const config = JSON.parse(files.get('config.json') as string);
  assert.equal(config.modality_builder, 'vector');
  assert.deepEqual(config.modalities, ['vector']);
  const lmm = await loadLMM(toSource(files));
  assert.equal(lmm.modalities[0].tokenWidth, 2);

  const rows = makeRows(48, 1);
  const encoded = rows.map((r, i) => lmm.encodeRow(r, {}, i));
  const params = [...lmm.lm.parameters().values(), ...lmm.projectorParameters().values()];
for (const p of params) p.trainable = true;
  const optimizer = tf.train.adam(3e-3);
  const losses: number[] = [];
  const B = 16;
  for (let step = 0; step < 90; step++) {
    const slice = encoded.slice((step * B) % encoded.length, ((step * B) % encoded.length) + B);
    const { batch } = collate(slice, { maxLength: 128, padTokenId: lmm.tokenizer.padTokenId, tokenWidths: lmm.tokenWidths });
    const pre = await lmm.preprocess(batch!.items, batch!.ids);
    const features = await lmm.encode(pre, batch!.layout, batch!.ids);
    const cost = optimizer.minimize(() => lmm.loss(batch!, features, true) as tf.Scalar, true, params)!;
    losses.push(cost.dataSync()[0]);
    cost.dispose();
    for (const f of features) f?.dispose();
  }
  const first = losses.slice(0, 3).reduce((a, b) => a + b) / 3;
  const last = losses.slice(-3).reduce((a, b) => a + b) / 3;
  assert.ok(last < first * 0.25, `loss ${first.toFixed(3)} → ${last.toFixed(3)}`);

  // Generation must depend on the spliced vectors: answers follow the data, not a constant.
  const probe = makeRows(48, 1).slice(0, 16).map((r) => ({ ...r, messages: r.messages.slice(0, 1) }));
  await generateBatch(lmm, probe.slice(0, 1), { maxNewTokens: 1 }); // builds per-layer caches (wasm Wᵀ)
  const before = tf.memory().numTensors;
  const outs = await generateBatch(lmm, probe, { maxNewTokens: 4 });
  assert.equal(tf.memory().numTensors, before, 'no tensors leak in generation');
  const want = rows.slice(0, 16).map((r) => r.messages[1].content);
  const correct = outs.filter((o, i) => o.text.trim() === want[i]).length;
  assert.ok(new Set(outs.map((o) => o.text)).size > 1, `constant answers: ${outs.map((o) => o.text)}`);
  assert.ok(correct >= 12, `${correct}/16 answers match the training targets: ${outs.map((o) => o.text)}`);
  lmm.dispose();
});
