import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../src/tf.js';
import { RMSNorm } from '../src/nn/norms.js';
import { applyRope, ropeCosSin, ropeInverseFrequencies } from '../src/lm/rope.js';
import { groupedQueryAttention } from '../src/lm/attention.js';
import { buildAttentionMask, positionsFromMask } from '../src/lm/attention-mask.js';
import { parseLlamaConfig } from '../src/lm/config.js';

await tf.setBackend('cpu');

function close(actual: ArrayLike<number>, expected: ArrayLike<number>, tol = 1e-5, what = '') {
  assert.equal(actual.length, expected.length, `${what} length`);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Math.abs(actual[i] - expected[i]) <= tol, `${what}[${i}]: ${actual[i]} vs ${expected[i]}`);
  }
}

test('RMSNorm matches a hand-computed case', () => {
  // x = [3, 4]: mean(x²) = 12.5, rms = 3.5355339; w = [1, 2] → [0.8485281, 2.2627417]
  const n = new RMSNorm(tf.tensor1d([1, 2]), 0);
  close(n.apply(tf.tensor2d([[3, 4]])).dataSync(), [0.8485281, 2.2627417]);
  // eps is added inside the square root: x = [0, 0] gives 0, not NaN.
  const n2 = new RMSNorm(tf.tensor1d([1, 1]), 1e-6);
  close(n2.apply(tf.tensor2d([[0, 0]])).dataSync(), [0, 0]);
});

test('RoPE inverse frequencies: default, linear and llama3 scaling', () => {
  close(ropeInverseFrequencies(4, 10000, null), [1, 0.01]);
  close(ropeInverseFrequencies(4, 10000, { type: 'linear', factor: 2 }), [0.5, 0.005]);
  // head 8, θ=1e4 → [1, 0.1, 0.01, 0.001]; wavelengths 2π/f = [6.28, 62.8, 628.3, 6283].
  // original context 1000, low 1, high 4 → high-freq cutoff 250, low-freq cutoff 1000, factor 8:
  //   6.28, 62.8 < 250 keep; 6283 > 1000 → 0.001/8 = 0.000125;
  //   628.3 in between: smooth = (1000/628.3 − 1)/3 = 0.197183 → (1−s)·0.01/8 + s·0.01 = 0.00297535
  const l3 = ropeInverseFrequencies(8, 10000, {
    type: 'llama3',
    factor: 8,
    lowFreqFactor: 1,
    highFreqFactor: 4,
    originalMaxPositionEmbeddings: 1000,
  });
  close(l3, [1, 0.1, 0.00297535, 0.000125], 1e-7);
});

test('RoPE rotates by position as rotate_half does', () => {
  const inv = tf.tensor1d(ropeInverseFrequencies(4, 10000, null));
  const { cos, sin } = ropeCosSin(tf.tensor2d([[0, 1, 2]], [1, 3], 'int32'), inv);
  // x = e0 at every position, one head: result = [cos(p), 0, sin(p), 0] (rotate_half(e0) = e2).
  const x = tf.tensor4d([1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0], [1, 1, 3, 4]);
  const y = applyRope(x, cos, sin).dataSync();
  close(y, [1, 0, 0, 0, Math.cos(1), 0, Math.sin(1), 0, Math.cos(2), 0, Math.sin(2), 0]);
  // x = e1: the second frequency (0.01) rotates into e3.
  const x1 = tf.tensor4d([0, 1, 0, 0], [1, 1, 1, 4]);
  const { cos: c1, sin: s1 } = ropeCosSin(tf.tensor2d([[5]], [1, 1], 'int32'), inv);
  close(applyRope(x1, c1, s1).dataSync(), [0, Math.cos(0.05), 0, Math.sin(0.05)]);
});

test('grouped-query attention with a causal mask: hand-computed', () => {
  // B=1, H=2 query heads sharing KVH=1, T=2, d=1. k = [1, 0], v = [10, 20].
  const q = tf.tensor4d([1, 2, 0, 1], [1, 2, 2, 1]);
  const k = tf.tensor4d([1, 0], [1, 1, 2, 1]);
  const v = tf.tensor4d([10, 20], [1, 1, 2, 1]);
  const mask = buildAttentionMask([[1, 1]], 2, 0, null);
  const out = groupedQueryAttention(q, k, v, mask).dataSync();
  // t=0 sees only key 0 → 10. Head 0, t=1: scores [2, 0] → p = [0.880797, 0.119203] → 11.19203.
  // Head 1, t=1: scores [1, 0] → p = [0.731059, 0.268941] → 12.68941.
  close(out, [10, 11.19203, 10, 12.68941], 1e-4);
});

function naiveAttention(
  q: number[][][][],
  k: number[][][][],
  v: number[][][][],
  allowed: (b: number, t: number, s: number) => boolean,
): number[] {
  const out: number[] = [];
  const H = q[0].length;
  const KVH = k[0].length;
  for (let b = 0; b < q.length; b++)
    for (let h = 0; h < H; h++) {
      const g = Math.floor(h / (H / KVH));
      for (let t = 0; t < q[b][h].length; t++) {
        const d = q[b][h][t].length;
        const scores = k[b][g].map((kr, s) =>
          allowed(b, t, s) ? kr.reduce((acc, kv, i) => acc + kv * q[b][h][t][i], 0) / Math.sqrt(d) : -Infinity,
        );
        const m = Math.max(...scores);
        const e = scores.map((x) => (x === -Infinity ? 0 : Math.exp(x - m)));
        const z = e.reduce((a, x) => a + x, 0);
        for (let i = 0; i < d; i++) out.push(e.reduce((acc, p, s) => acc + (p / z) * v[b][g][s][i], 0));
      }
    }
  return out;
}

test('GQA attention equals a naive loop reference, with padding and a sliding window', () => {
  const B = 2, H = 4, KVH = 2, T = 5, d = 3, window = 3;
  const q = tf.randomNormal([B, H, T, d], 0, 1, 'float32', 1);
  const k = tf.randomNormal([B, KVH, T, d], 0, 1, 'float32', 2);
  const v = tf.randomNormal([B, KVH, T, d], 0, 1, 'float32', 3);
  const pad = [
    [1, 1, 1, 1, 1],
    [0, 0, 1, 1, 1],
  ];
  const mask = buildAttentionMask(pad, T, 0, window);
  const got = groupedQueryAttention(q, k, v, mask).dataSync();
  const want = naiveAttention(
    q.arraySync() as number[][][][],
    k.arraySync() as number[][][][],
    v.arraySync() as number[][][][],
    (b, t, s) => s <= t && t - s < window && pad[b][s] === 1,
  );
  // Rows whose every key is masked (left-pad queries) are don't-care; compare only real query rows.
  const real = (b: number, t: number) => pad[b][t] === 1;
  let i = 0;
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++)
      for (let t = 0; t < T; t++)
        for (let j = 0; j < d; j++, i++) {
          if (real(b, t)) assert.ok(Math.abs(got[i] - want[i]) < 1e-5, `b${b} h${h} t${t}: ${got[i]} vs ${want[i]}`);
        }
});

test('position ids from a left-padded mask follow Hugging Face', () => {
  assert.deepEqual(positionsFromMask([[0, 0, 1, 1, 1]], 5), [[1, 1, 0, 1, 2]]);
  assert.deepEqual(positionsFromMask([[0, 1, 1, 1]], 1), [[2]]);
});

test('config parsing: Qwen2 biases, Mistral window, bad head counts', () => {
  const base = { vocab_size: 10, hidden_size: 8, intermediate_size: 16, num_hidden_layers: 1, num_attention_heads: 2 };
  const q = parseLlamaConfig({ ...base, model_type: 'qwen2' });
  assert.equal(q.qkvBias, true);
  assert.equal(q.oBias, false);
  assert.equal(q.numKeyValueHeads, 2);
  const m = parseLlamaConfig({ ...base, model_type: 'mistral', sliding_window: 16 });
  assert.equal(m.slidingWindow, 16);
  assert.equal(parseLlamaConfig({ ...base, model_type: 'llama' }).slidingWindow, null);
  assert.throws(() => parseLlamaConfig({ ...base, num_key_value_heads: 3 }), /multiple of num_key_value_heads/);
  assert.throws(() => parseLlamaConfig({ ...base, model_type: 'gpt2' }), /not a supported/);
  assert.throws(() => parseLlamaConfig({ ...base, hidden_size: undefined }), /missing required field "hidden_size"/);
  assert.throws(() => parseLlamaConfig({ ...base, rope_scaling: { type: 'yarn', factor: 2 } }), /yarn.*not supported/);
});

test('config parsing accepts the Python library\'s "<family>-lmm" model types', () => {
  const c = parseLlamaConfig({ model_type: 'mistral-lmm', vocab_size: 10, hidden_size: 8, intermediate_size: 16, num_hidden_layers: 1, num_attention_heads: 2, sliding_window: 32 });
  assert.equal(c.modelType, 'mistral');
  assert.equal(c.slidingWindow, 32);
});
