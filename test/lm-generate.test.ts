import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../src/tf.js';
import { LlamaForCausalLM } from '../src/lm/llama.js';
import { generate, generateNoCache, generateTokens } from '../src/lm/generate.js';
import { mapWeights, tinyLlama, type TinyArch } from '../src/tiny/tiny-llama.js';

await tf.setBackend('cpu');

function model(arch: TinyArch, seed = 1, extra?: Record<string, unknown>): LlamaForCausalLM {
  const { config, weights } = tinyLlama({ arch, vocabSize: 97, eosTokenId: 2, bosTokenId: 1, extra }, seed);
  const lm = LlamaForCausalLM.fromWeights(config, mapWeights(weights));
  for (const t of weights.values()) t.dispose();
  return lm;
}

const archs: TinyArch[] = ['llama', 'mistral', 'qwen2'];

for (const arch of archs) {
  test(`${arch}: KV-cache logits equal full recomputation at every step`, () => {
    const lm = model(arch, 3, arch === 'mistral' ? { sliding_window: 4 } : undefined);
    const ids = [1, 5, 9, 14, 20, 33, 41, 7, 8, 60, 3, 11];
    const cache = lm.newCache(1);
    let maxDiff = 0;
    const prompt = 3;
    const first = lm.forward({ inputIds: tf.tensor2d([ids.slice(0, prompt)], undefined, 'int32'), cache, logits: 'all' });
    const checks: [tf.Tensor, number][] = [[first.logits!, prompt]];
    for (let t = prompt; t < ids.length; t++) {
      const step = lm.forward({ inputIds: tf.tensor2d([[ids[t]]], undefined, 'int32'), cache, logits: 'all' });
      checks.push([step.logits!, t + 1]);
    }
    for (const [cached, len] of checks) {
      const full = lm.forward({ inputIds: tf.tensor2d([ids.slice(0, len)], undefined, 'int32'), logits: 'all' }).logits!;
      const n = cached.shape[1]!;
      const fullTail = full.slice([0, len - n, 0], [1, n, -1]);
      maxDiff = Math.max(maxDiff, tf.max(tf.abs(tf.sub(fullTail, cached))).dataSync()[0]);
    }
    assert.ok(maxDiff <= 1e-4, `max |cached - full| = ${maxDiff}`);
    cache.dispose();
    lm.dispose();
  });
}

test('greedy generation with the cache equals greedy generation without it', async () => {
  const lm = model('llama', 4);
  const prompt = [1, 10, 20, 30];
  const cached = (await generate(lm, { inputIds: [prompt] }, { maxNewTokens: 12, stopTokenIds: [] }))[0];
  const uncached = await generateNoCache(lm, prompt, 12, []);
  assert.deepEqual(cached, uncached.slice(0, cached.length));
  assert.equal(cached.length, 12);
  // The model must not be degenerate, or this test proves little.
  assert.ok(new Set(cached).size > 2, `output too repetitive: ${cached}`);
  lm.dispose();
});

for (const arch of archs) {
  test(`${arch}: batched generation with left padding equals one-by-one`, async () => {
    const lm = model(arch, 5);
    const prompts = [[1, 4, 9], [1, 50, 60, 70, 80, 90], [1, 7]];
    const opts = { maxNewTokens: 8, stopTokenIds: [] as number[] };
    const batched = await generate(lm, { inputIds: prompts }, opts);
    for (let i = 0; i < prompts.length; i++) {
      const single = (await generate(lm, { inputIds: [prompts[i]] }, opts))[0];
      assert.deepEqual(batched[i], single, `row ${i}`);
    }
    lm.dispose();
  });
}

test('stop tokens end a row; other rows continue', async () => {
  const lm = model('llama', 6);
  const free = (await generate(lm, { inputIds: [[1, 3, 5]] }, { maxNewTokens: 10, stopTokenIds: [] }))[0];
  const stopAt = free[3];
  const stopped = (await generate(lm, { inputIds: [[1, 3, 5]] }, { maxNewTokens: 10, stopTokenIds: [stopAt] }))[0];
  assert.deepEqual(stopped, free.slice(0, free.indexOf(stopAt) + 1));
  const both = await generate(lm, { inputIds: [[1, 3, 5], [1, 8, 8, 8]] }, { maxNewTokens: 10, stopTokenIds: [stopAt] });
  assert.deepEqual(both[0], stopped);
  lm.dispose();
});

test('streaming yields the same tokens as the collected result, and sampling is seeded', async () => {
  const lm = model('qwen2', 7);
  const opts = { maxNewTokens: 10, temperature: 0.9, topK: 20, topP: 0.9, repetitionPenalty: 1.2, seed: 42 };
  const streamed: number[] = [];
  for await (const s of generateTokens(lm, { inputIds: [[1, 2, 3]] }, opts)) if (s.tokens[0] !== null) streamed.push(s.tokens[0]);
  const collected = (await generate(lm, { inputIds: [[1, 2, 3]] }, opts))[0];
  assert.deepEqual(streamed, collected);
  const again = (await generate(lm, { inputIds: [[1, 2, 3]] }, opts))[0];
  assert.deepEqual(again, collected);
  const other = (await generate(lm, { inputIds: [[1, 2, 3]] }, { ...opts, seed: 43 }))[0];
  assert.notDeepEqual(other, collected);
  lm.dispose();
});

test('no tensors leak across generation steps', async () => {
  const lm = model('mistral', 8);
  await generate(lm, { inputIds: [[1, 2]] }, { maxNewTokens: 2 }); // warm-up (lazy kernels)
  const before = tf.memory().numTensors;
  await generate(lm, { inputIds: [[1, 2, 3], [4, 5]] }, { maxNewTokens: 16, stopTokenIds: [] });
  assert.equal(tf.memory().numTensors, before);
  // Abandoning a stream part-way (client disconnect) frees the cache too.
  const it = generateTokens(lm, { inputIds: [[1, 2, 3]] }, { maxNewTokens: 16, stopTokenIds: [] });
  await it.next();
  await it.return(undefined);
  assert.equal(tf.memory().numTensors, before);
  lm.dispose();
});

test('tied and untied embeddings, and input embeddings give the same logits as ids', () => {
  const lm = model('qwen2', 9); // qwen2 tiny ties embeddings
  assert.equal(lm.lmHead, null);
  const ids = tf.tensor2d([[1, 2, 3]], undefined, 'int32');
  const a = lm.forward({ inputIds: ids }).logits!;
  const b = lm.forward({ inputsEmbeds: lm.embed(ids) }).logits!;
  assert.ok(tf.max(tf.abs(tf.sub(a, b))).dataSync()[0] < 1e-6);
  lm.dispose();
});
