import { test } from 'node:test';
import assert from 'node:assert/strict';
import { collate, truncateRow } from '../src/data/collate.js';
import type { EncodedChat } from '../src/chat/encode-chat.js';
import { IGNORE_INDEX } from '../src/constants.js';

const I = IGNORE_INDEX;
// ids: 5 text, run of 3 placeholders at 2..4, then labels at the end.
const row: EncodedChat = {
  id: 'r1',
  inputIds: [10, 11, -1, -1, -1, 12, 13, 14, 15],
  labels: [I, I, I, I, I, I, 13, 14, 15],
  runs: [{ modality: 0, instance: 0, start: 2, width: 3 }],
  items: [['v0']],
};

test('right padding, attention mask, IGNORE labels on padding, layout rows', () => {
  const short: EncodedChat = { id: 'r2', inputIds: [20, 21, 22], labels: [I, 21, 22], runs: [], items: [[]] };
  const { batch, skipped } = collate([row, short], { maxLength: 64, padTokenId: 0, tokenWidths: [3] });
  assert.deepEqual(skipped, []);
  assert.deepEqual(batch!.inputIds[1], [20, 21, 22, 0, 0, 0, 0, 0, 0]);
  assert.deepEqual(batch!.attentionMask[1], [1, 1, 1, 0, 0, 0, 0, 0, 0]);
  assert.deepEqual(batch!.labels[1], [I, 21, 22, I, I, I, I, I, I]);
  assert.deepEqual(Array.from(batch!.layout.sourceRows.slice(0, 9)), [-1, -1, 0, 1, 2, -1, -1, -1, -1]);
  assert.deepEqual(batch!.items, [[['v0'], []]]);
});

test('truncation never cuts a placeholder run: such rows are skipped with the reason, or rejected', () => {
  const cut = truncateRow(row, 3);
  assert.ok('reason' in cut && /would cut placeholder run \[2, 5\) in two/.test(cut.reason));
  const { batch, skipped } = collate([row], { maxLength: 4, padTokenId: 0, tokenWidths: [3] });
  assert.equal(batch, null);
  assert.equal(skipped[0].id, 'r1');
  assert.throws(() => collate([row], { maxLength: 4, padTokenId: 0, tokenWidths: [3], onBadTruncation: 'error' }), /row "r1": truncating to model_max_length 4/);
});

test('truncation after a run keeps the run; a cut that leaves no labels is skipped', () => {
  const ok = truncateRow(row, 8);
  assert.ok('row' in ok);
  assert.deepEqual(ok.row.inputIds, [10, 11, -1, -1, -1, 12, 13, 14]);
  assert.equal(ok.row.runs.length, 1);
  const none = truncateRow(row, 6);
  assert.ok('reason' in none && /no assistant tokens left/.test(none.reason));
});
