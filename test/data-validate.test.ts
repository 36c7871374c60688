import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BUILDER_MODALITY_KEYS,
  DatasetValidationError,
  describeBadRow,
  inferModalityKeys,
  modalityKeysForBuilder,
  validateRows,
} from '../src/data/validate.js';

const vision = modalityKeysForBuilder('vision_clip');
const chat = (user: string, reply = 'Fine.') => [
  { role: 'user', content: user },
  { role: 'assistant', content: reply },
];

const rows: Record<string, unknown>[] = [
  { id: 'ok', messages: chat('Describe <image>'), images: ['a.png'] },
  { id: 'too-few', messages: chat('<image> vs <image>'), images: ['a.png'] },
  { id: 'unknown-key', messages: chat('Hi'), speech_audios: ['a.wav'] },
  { id: 'in-reply', messages: chat('Look', 'at <image>'), images: ['a.png'] },
  { id: 'no-reply', messages: [{ role: 'user', content: 'Hi' }] },
  { id: 'empty', messages: [] },
  { messages: chat('no id is fine') },
  { id: 'ok', messages: chat('dup') },
  { id: 'text-only', messages: chat('Hi'), images: [] },
];

test('validateRows reports each bad row by id with the reason, keeping good rows in order', () => {
  const { good, bad } = validateRows(rows, vision, { skipBadRows: true });
  assert.deepEqual(good.map((r) => r.id), ['ok', undefined, 'text-only']);
  const byId = Object.fromEntries(bad.map((b) => [b.id, b]));
  assert.deepEqual(Object.keys(byId), ['too-few', 'unknown-key', 'in-reply', 'no-reply', 'empty', 'ok']);
  assert.match(byId['too-few'].message, /2 <image> token\(s\) in the text but 1 item\(s\) in "images"/);
  assert.match(byId['unknown-key'].message, /unknown data key "speech_audios" \(this model's modalities read: images\)/);
  assert.match(byId['in-reply'].message, /modality tokens belong in user turns/);
  assert.equal(byId['no-reply'].message, 'no assistant reply to learn from');
  assert.match(byId.empty.message, /empty conversation/);
  assert.equal(byId.ok.message, 'duplicate id (first used by row #0)');
  assert.equal(byId.ok.index, 7);
  assert.equal(describeBadRow(byId['too-few']), 'row "too-few" (#1): 2 <image> token(s) in the text but 1 item(s) in "images"');
});

test('without skipBadRows any bad row throws, listing ids; requireAssistant and indexOffset are honoured', () => {
  assert.throws(
    () => validateRows(rows, vision),
    (e: unknown) => e instanceof DatasetValidationError && e.bad.length === 6 && /6 dataset row\(s\) failed validation/.test(e.message) && e.message.includes('row "unknown-key" (#2)'),
  );
  const { good } = validateRows([rows[4]], vision, { requireAssistant: false });
  assert.equal(good.length, 1);
  const { bad } = validateRows([{ messages: [] }], vision, { skipBadRows: true, indexOffset: 10 });
  assert.deepEqual(bad, [{ id: '#10', index: 10, message: 'empty conversation: "messages" must be a non-empty array' }]);
  assert.equal(describeBadRow(bad[0]), 'row #10: empty conversation: "messages" must be a non-empty array');
});

test('modalities are guessed from data keys, or looked up by builder name', () => {
  assert.deepEqual(
    inferModalityKeys([{ images: ['a'] }, { speech_audios: ['b'], images: [] }, { mystery: [1] }]).map((m) => m.token),
    ['<image>', '<speech>'],
  );
  assert.equal(modalityKeysForBuilder('audio_whisper')[0].dataKey, 'speech_audios');
  assert.throws(() => modalityKeysForBuilder('nope'), /unknown modality builder "nope" \(known: audio_clap, audio_whisper/);
  for (const [name, list] of Object.entries(BUILDER_MODALITY_KEYS)) assert.ok(list.every((m) => m.token.startsWith('<') && m.dataKey), name);
});
