/**
 * Unigram input noising (src/train/token-noise.ts): only answer tokens of the inputs change, labels never; the
 * drawn tokens come from the batch's answers; the rate is p; the layout the model embeds matches the inputs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { collate } from '../src/data/collate.js';
import type { EncodedChat } from '../src/chat/encode-chat.js';
import { IGNORE_INDEX } from '../src/constants.js';
import { noiseResponseTokens, tokenNoiseRng } from '../src/train/token-noise.js';
import { Rng } from '../src/util/rng.js';

const I = IGNORE_INDEX;

/** Rows of a prompt (ids 1..4, a placeholder run) and an answer of ids 100.., of various lengths. */
function batch(rows = 16) {
  const encoded: EncodedChat[] = Array.from({ length: rows }, (_, r) => {
    const answer = Array.from({ length: 3 + (r % 5) }, (_, k) => 100 + ((r * 7 + k) % 20));
    return {
      id: `r${r}`,
      inputIds: [1, 2, -1, -1, 3, 4, ...answer],
      labels: [I, I, I, I, I, I, ...answer],
      runs: [{ modality: 0, instance: 0, start: 2, width: 2 }],
      items: [[`v${r}`]],
    };
  });
  return collate(encoded, { maxLength: 64, padTokenId: 0, tokenWidths: [2] }).batch!;
}

test('only answer positions change; labels, mask, runs and the input batch stay as they were', () => {
  const b = batch();
  const before = JSON.stringify(b.inputIds);
  const tokenIdsBefore = b.layout.tokenIds.slice();
  const n = noiseResponseTokens(b, 0.5, new Rng(3));
  assert.equal(JSON.stringify(b.inputIds), before, 'the batch passed in is not changed');
  assert.deepEqual(b.layout.tokenIds, tokenIdsBefore);
  assert.deepEqual(n.labels, b.labels);
  assert.deepEqual(n.attentionMask, b.attentionMask);
  assert.equal(n.layout.sourceRows, b.layout.sourceRows);
  const answers = new Set(b.labels.flatMap((row) => row.filter((l) => l !== I)));
  let changed = 0;
  n.inputIds.forEach((row, r) =>
    row.forEach((id, t) => {
      if (b.labels[r][t] === I) assert.equal(id, b.inputIds[r][t], `prompt/placeholder/padding position ${r},${t} unchanged`);
      else assert.ok(answers.has(id), `drawn token ${id} is one of the batch's answer tokens`);
      if (id !== b.inputIds[r][t]) changed++;
      // The model embeds layout.tokenIds at text positions: it must see the noised ids.
      if (b.layout.sourceRows[r * b.layout.seqLen + t] < 0) assert.equal(n.layout.tokenIds[r * b.layout.seqLen + t], id);
    }),
  );
  assert.ok(changed > 0);
});

test('the replaced share is p (draws that pick the same token aside), and p = 0 is the batch itself', () => {
  const b = batch(400);
  const positions = b.labels.flat().filter((l) => l !== I).length;
  for (const p of [0.1, 0.3]) {
    const n = noiseResponseTokens(b, p, new Rng(11));
    const changed = n.inputIds.flat().filter((id, i) => id !== b.inputIds.flat()[i]).length;
    // A draw equals the token it replaces about 1/20 of the time here (20 distinct answer ids).
    const expected = positions * p * (1 - 1 / 20);
    assert.ok(Math.abs(changed - expected) < 4 * Math.sqrt(expected), `p=${p}: ${changed} changed, expected about ${expected.toFixed(0)}`);
  }
  assert.equal(noiseResponseTokens(b, 0, new Rng(1)), b);
  assert.throws(() => noiseResponseTokens(b, 1.5, new Rng(1)), /probability in \[0, 1\] \(got 1\.5\)/);
});

test('the generator depends on (seed, step, micro-batch) only: the same draws after a resume', () => {
  const b = batch();
  const draw = (seed: number, step: number, micro: number) => JSON.stringify(noiseResponseTokens(b, 0.3, tokenNoiseRng(seed, step, micro)).inputIds);
  assert.equal(draw(1, 5, 0), draw(1, 5, 0));
  assert.notEqual(draw(1, 5, 0), draw(1, 6, 0));
  assert.notEqual(draw(1, 5, 0), draw(1, 5, 1));
  assert.notEqual(draw(1, 5, 0), draw(2, 5, 0));
});
