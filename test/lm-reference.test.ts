/**
 * Our Llama-family forward pass and loss against an independent PyTorch re-implementation of Hugging Face's
 * LlamaForCausalLM / MistralForCausalLM / Qwen2ForCausalLM (bench/reference/llama_ref.py). The expected values
 * live in test/fixtures/llama-ref.json (regenerate with `npx tsx bench/reference/make_llama_fixture.ts`); this
 * test needs no Python: weights are rebuilt from the stored seed with `randomLlamaWeights`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { tf, type Tensor } from '../src/tf.js';
import { parseLlamaConfig } from '../src/lm/config.js';
import { LlamaForCausalLM } from '../src/lm/llama.js';
import { causalLMLoss } from '../src/lm/loss.js';
import { positionsFromMask } from '../src/lm/attention-mask.js';
import { mapWeights, randomLlamaWeights } from '../src/tiny/tiny-llama.js';

await tf.setBackend('cpu');

interface RefCase {
  name: string;
  why: string;
  config: Record<string, unknown>;
  seed: number;
  normWeights: Record<string, number[]>;
  inputIds: number[][];
  attentionMask: number[][];
  labels: number[][];
  positionIds: number[][];
  /** `[B][T][V]`, null at padded positions. */
  logits: (number[] | null)[][];
  loss: number;
}

const fixture = JSON.parse(readFileSync(new URL('./fixtures/llama-ref.json', import.meta.url), 'utf8')) as {
  cases: RefCase[];
};

const LOGIT_TOL = 1e-4;
const LOSS_REL_TOL = 1e-5;

test('fixture covers llama, mistral and qwen2', () => {
  const names = fixture.cases.map((c) => c.name);
  for (const n of ['llama', 'mistral', 'qwen2']) assert.ok(names.includes(n), `fixture lacks case "${n}"`);
});

for (const c of fixture.cases) {
  test(`matches the PyTorch reference: ${c.name} (${c.why})`, (t0) => {
    const config = parseLlamaConfig(c.config);
    const weights = randomLlamaWeights(config, c.seed);
    for (const [n, v] of Object.entries(c.normWeights)) {
      assert.ok(weights.has(n), `${c.name}: norm weight "${n}" is not a model weight`);
      weights.get(n)!.dispose();
      weights.set(n, tf.tensor1d(v));
    }
    const model = LlamaForCausalLM.fromWeights(config, mapWeights(weights));
    try {
      // Same position convention as the reference (HF generate's cumsum of the mask, pads at 1).
      assert.deepEqual(positionsFromMask(c.attentionMask, c.inputIds[0].length), c.positionIds, `${c.name}: position ids`);

      const ids = tf.tensor2d(c.inputIds, undefined, 'int32');
      const { logits, hidden } = model.forward({ inputIds: ids, attentionMask: c.attentionMask });
      const [b, t, v] = logits!.shape;
      assert.deepEqual([b, t, v], [c.inputIds.length, c.inputIds[0].length, config.vocabSize]);
      const got = logits!.arraySync() as number[][][];
      let maxDiff = 0;
      let where = '';
      for (let i = 0; i < b; i++) {
        for (let j = 0; j < t; j++) {
          const want = c.logits[i][j];
          if (c.attentionMask[i][j] === 0) {
            assert.equal(want, null, `${c.name}: fixture has logits at padded [${i}][${j}]`);
            continue;
          }
          assert.ok(want, `${c.name}: fixture lacks logits at [${i}][${j}]`);
          for (let k = 0; k < v; k++) {
            const d = Math.abs(got[i][j][k] - want[k]);
            if (!(d <= maxDiff)) {
              maxDiff = d;
              where = `[${i}][${j}][${k}]: ours ${got[i][j][k]}, reference ${want[k]}`;
            }
          }
        }
      }
      assert.ok(maxDiff <= LOGIT_TOL, `${c.name}: max |logit diff| ${maxDiff} > ${LOGIT_TOL} at ${where}`);

      const { loss, count } = causalLMLoss(logits!, c.labels);
      const expectedCount = c.labels.flat().filter((y, k) => k % t !== 0 && y !== -100).length;
      assert.equal(count, expectedCount, `${c.name}: counted label positions`);
      const ours = loss.dataSync()[0];
      const rel = Math.abs(ours - c.loss) / Math.abs(c.loss);
      t0.diagnostic(`${c.name}: max |logit diff| ${maxDiff.toExponential(2)}, loss relative diff ${rel.toExponential(2)}`);
      assert.ok(rel <= LOSS_REL_TOL, `${c.name}: loss ${ours} vs reference ${c.loss} (relative diff ${rel})`);
      for (const x of [ids, logits!, hidden, loss] as Tensor[]) x.dispose();
    } finally {
      model.dispose();
      for (const x of weights.values()) if (!x.isDisposed) x.dispose();
    }
  });
}

test('per-layer sliding windows follow HF: Mistral every layer, Qwen2 only from max_window_layers / layer_types', () => {
  const base = { vocab_size: 10, hidden_size: 8, intermediate_size: 16, num_hidden_layers: 3, num_attention_heads: 2 };
  const windows = (raw: Record<string, unknown>) => parseLlamaConfig({ ...base, ...raw }).layerSlidingWindows;
  assert.deepEqual(windows({ model_type: 'mistral', sliding_window: 5 }), [5, 5, 5]);
  assert.deepEqual(windows({ model_type: 'mistral', sliding_window: null }), [null, null, null]);
  assert.deepEqual(windows({ model_type: 'llama', sliding_window: 5 }), [null, null, null]);
  const qwen = { model_type: 'qwen2', sliding_window: 5 };
  assert.deepEqual(windows({ ...qwen, use_sliding_window: false, max_window_layers: 0 }), [null, null, null]);
  assert.deepEqual(windows({ ...qwen, use_sliding_window: true, max_window_layers: 1 }), [null, 5, 5]);
  assert.deepEqual(windows({ ...qwen, use_sliding_window: true }), [null, null, null]); // HF default max_window_layers 28
  const types = ['sliding_attention', 'full_attention', 'sliding_attention'];
  assert.deepEqual(windows({ ...qwen, use_sliding_window: true, max_window_layers: 3, layer_types: types }), [5, null, 5]);
});
