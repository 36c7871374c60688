import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemorySource } from '../src/io/source.js';
import { loadTokenizer } from '../src/io/tokenizer.js';
import { fromPreTrainedTokenizer } from '../src/chat/tokenizer-adapter.js';
import { encodeChat } from '../src/chat/encode-chat.js';
import type { ChatTokenizer } from '../src/chat/chat-tokenizer.js';
import { makeTinyTokenizer } from '../src/tiny/make-tokenizer.js';
import type { ChatStyle } from '../src/tiny/chat-templates.js';
import { VectorModality } from '../src/modality/vector/vector.js';
import { IGNORE_INDEX } from '../src/lm/loss.js';

async function tokenizer(style: ChatStyle): Promise<ChatTokenizer> {
  return fromPreTrainedTokenizer(await loadTokenizer(new MemorySource({ ...makeTinyTokenizer({ style }) })));
}

const vec = new VectorModality({ dim: 2, numTokens: 3 });
const conversation = {
  id: 'conv-1',
  messages: [
    { role: 'user', content: 'Is <vector> bigger than <vector>?' },
    { role: 'assistant', content: 'The first one.' },
    { role: 'user', content: 'say first' },
    { role: 'assistant', content: 'first' },
  ],
  vectors: [
    [1, 2],
    [3, 4],
  ],
};

/** The labelled spans, decoded with special tokens kept. */
function labelledSpans(tok: ChatTokenizer, labels: number[]): string[] {
  const spans: string[] = [];
  let cur: number[] = [];
  for (const l of [...labels, IGNORE_INDEX]) {
    if (l !== IGNORE_INDEX) cur.push(l);
    else if (cur.length) {
      spans.push(tok.decode(cur, false));
      cur = [];
    }
  }
  return spans;
}

const expectations: Record<'mistral' | 'llama3' | 'chatml' | 'zephyr', string[]> = {
  mistral: ['The first one.</s>', 'first</s>'],
  llama3: ['The first one.<|eot_id|>', 'first<|eot_id|>'],
  chatml: ['The first one.<|im_end|>', 'first<|im_end|>'],
  zephyr: ['The first one.</s>', 'first</s>'],
};

for (const style of Object.keys(expectations) as (keyof typeof expectations)[]) {
  test(`${style}: labels cover exactly the assistant replies and their end-of-turn token`, async () => {
    const tok = await tokenizer(style);
    const enc = encodeChat(conversation, tok, [vec]);
    assert.equal(enc.inputIds.length, enc.labels.length);
    // Token by token: a label is either IGNORE or the input token at that position.
    enc.labels.forEach((l, i) => assert.ok(l === IGNORE_INDEX || l === enc.inputIds[i], `position ${i}`));
    assert.deepEqual(labelledSpans(tok, enc.labels), expectations[style]);
    // The reply tokens are the tokenizer's own encoding of the reply text.
    const first = tok.encode(expectations[style][0]);
    const start = enc.labels.findIndex((l) => l !== IGNORE_INDEX);
    assert.deepEqual(enc.labels.slice(start, start + first.length), first);
    // Two runs of 3 placeholders, in text order, ignored by the loss.
    assert.deepEqual(enc.runs.map((r) => [r.instance, r.width]), [[0, 3], [1, 3]]);
    for (const r of enc.runs) {
      for (let k = 0; k < r.width; k++) {
        assert.equal(enc.inputIds[r.start + k], -1);
        assert.equal(enc.labels[r.start + k], IGNORE_INDEX);
      }
    }
    // The text around placeholders is the rendered prompt.
    const rendered = tok.render(conversation.messages, false);
    const textIds = enc.inputIds.filter((x) => x >= 0);
    assert.equal(tok.decode(textIds, false), rendered.replaceAll('<vector>', ''));
  });
}

test('generation mode appends the generation prompt and has no labels', async () => {
  const tok = await tokenizer('chatml');
  const enc = encodeChat({ messages: [{ role: 'user', content: 'hi <vector>' }], vectors: [[0, 1]] }, tok, [vec], { mode: 'generate' });
  assert.ok(enc.labels.every((l) => l === IGNORE_INDEX));
  assert.ok(tok.decode(enc.inputIds.filter((x) => x >= 0), false).endsWith('<|im_start|>assistant\n'));
});

test('a reply whose words also appear in an earlier user turn is located correctly', async () => {
  const tok = await tokenizer('llama3');
  const enc = encodeChat({ id: 'echo', messages: [{ role: 'user', content: 'say hello' }, { role: 'assistant', content: 'hello' }] }, tok, []);
  assert.deepEqual(labelledSpans(tok, enc.labels), ['hello<|eot_id|>']);
});

test('adjacent modality tokens become adjacent runs', async () => {
  const tok = await tokenizer('chatml');
  const enc = encodeChat(
    { messages: [{ role: 'user', content: '<vector><vector>' }, { role: 'assistant', content: 'ok' }], vectors: [[1, 1], [2, 2]] },
    tok,
    [vec],
  );
  assert.equal(enc.runs[1].start, enc.runs[0].start + 3);
});

test('errors name the row id', async () => {
  const tok = await tokenizer('chatml');
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ id: 'r1', messages: [] }, /row "r1": empty conversation/],
    [{ id: 'r2', messages: [{ role: 'user', content: '<vector>' }, { role: 'assistant', content: 'a' }], vectors: [] }, /row "r2": 1 <vector> token\(s\) in the text but 0 item\(s\) in "vectors"/],
    [{ id: 'r3', messages: [{ role: 'user', content: 'x' }, { role: 'assistant', content: 'a' }], vectors: [[1, 2]] }, /row "r3": 0 <vector> token\(s\) in the text but 1 item/],
    [{ id: 'r4', messages: [{ role: 'user', content: 'x' }, { role: 'assistant', content: 'see <vector>' }], vectors: [[1, 2]] }, /row "r4": <vector> appears in messages\[1\] \(role "assistant"\)/],
    [{ id: 'r5', messages: [{ role: 'user', content: 'x' }, { role: 'assistant', content: 'a' }], images: ['a.png'] }, /row "r5": unknown data key "images"/],
    [{ id: 'r6', messages: [{ role: 'user', content: 'x' }] }, /row "r6": no assistant reply/],
    [{ id: 'r7', messages: [{ role: 'user', content: 3 }] }, /row "r7": messages\[0\]\.content must be a string/],
  ];
  for (const [row, re] of cases) assert.throws(() => encodeChat(row as never, tok, [vec]), re);
});

test('an empty assistant reply is named', async () => {
  const tok = await tokenizer('chatml');
  assert.throws(() => encodeChat({ id: 'e', messages: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: '  ' }] }, tok, []), /row "e": messages\[1\] is an empty assistant reply/);
});
