import { test } from 'node:test';
import assert from 'node:assert/strict';

import { MemorySource } from '../src/io/source.js';
import { encodeText, loadTokenizer, renderChat, type ChatMessage } from '../src/io/tokenizer.js';
import { CHAT_TEMPLATES, isChatStyle, type ChatStyle } from '../src/tiny/chat-templates.js';
import { makeTinyTokenizer } from '../src/tiny/make-tokenizer.js';

const cache = new Map<ChatStyle, ReturnType<typeof loadTokenizer>>();
const load = (style: ChatStyle) => {
  if (!cache.has(style)) cache.set(style, loadTokenizer(new MemorySource({ ...makeTinyTokenizer({ style }) })));
  return cache.get(style)!;
};

const TWO_TURNS: ChatMessage[] = [
  { role: 'user', content: 'What colour is the circle?' },
  { role: 'assistant', content: 'The circle is red.' },
];
const ASK: ChatMessage[] = [{ role: 'user', content: 'How many squares?' }];

// Written out literally from the official templates' output.
const EXPECTED: Record<ChatStyle, { twoTurns: string; prompt: string }> = {
  mistral: {
    twoTurns: '<s>[INST] What colour is the circle? [/INST]The circle is red.</s> ',
    prompt: '<s>[INST] How many squares? [/INST]',
  },
  llama3: {
    twoTurns:
      '<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nWhat colour is the circle?<|eot_id|>' +
      '<|start_header_id|>assistant<|end_header_id|>\n\nThe circle is red.<|eot_id|>',
    prompt:
      '<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHow many squares?<|eot_id|>' +
      '<|start_header_id|>assistant<|end_header_id|>\n\n',
  },
  chatml: {
    twoTurns:
      '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' +
      '<|im_start|>user\nWhat colour is the circle?<|im_end|>\n<|im_start|>assistant\nThe circle is red.<|im_end|>\n',
    prompt:
      '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' +
      '<|im_start|>user\nHow many squares?<|im_end|>\n<|im_start|>assistant\n',
  },
  zephyr: {
    twoTurns: '<|user|>\nWhat colour is the circle?</s>\n<|assistant|>\nThe circle is red.</s>\n',
    prompt: '<|user|>\nHow many squares?</s>\n<|assistant|>\n',
  },
};

for (const style of Object.keys(EXPECTED) as ChatStyle[]) {
  test(`${style}: the loaded tokenizer renders a 2-turn chat exactly like the official template`, async () => {
    const tok = await load(style);
    assert.equal(renderChat(tok, TWO_TURNS), EXPECTED[style].twoTurns);
    assert.equal(renderChat(tok, ASK, { addGenerationPrompt: true }), EXPECTED[style].prompt);
  });

  test(`${style}: rendered special tokens encode to their single ids`, async () => {
    const tok = await load(style);
    const ids = encodeText(tok, renderChat(tok, TWO_TURNS));
    const eos = tok.convert_tokens_to_ids(CHAT_TEMPLATES[style].eos);
    assert.ok(ids.includes(eos), `${style} chat contains eos id ${eos}`);
    const specials = new Set(CHAT_TEMPLATES[style].specialTokens.map((t) => tok.convert_tokens_to_ids(t)));
    const specialCount = ids.filter((i) => specials.has(i)).length;
    const expectedCount = CHAT_TEMPLATES[style].specialTokens.reduce(
      (n, t) => n + EXPECTED[style].twoTurns.split(t).length - 1,
      0,
    );
    assert.equal(specialCount, expectedCount);
  });
}

test('mistral raises on non-alternating roles and on a system message, as the official template does', async () => {
  const tok = await load('mistral');
  const twoUsers: ChatMessage[] = [
    { role: 'user', content: 'a' },
    { role: 'user', content: 'b' },
  ];
  assert.throws(() => renderChat(tok, twoUsers), /Conversation roles must alternate/);
  assert.throws(() => renderChat(tok, [{ role: 'system', content: 's' }, ...ASK]), /must alternate/);
  assert.equal(
    renderChat(tok, [...TWO_TURNS, ...ASK]),
    '<s>[INST] What colour is the circle? [/INST]The circle is red.</s> [INST] How many squares? [/INST]',
  );
});

test('chatml keeps a given system prompt instead of the default one', async () => {
  const tok = await load('chatml');
  const out = renderChat(tok, [{ role: 'system', content: 'Be brief.' }, ...ASK], { addGenerationPrompt: true });
  assert.equal(out, '<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHow many squares?<|im_end|>\n<|im_start|>assistant\n');
});

test('llama3 trims message content; zephyr renders a system turn', async () => {
  const llama = await load('llama3');
  assert.equal(
    renderChat(llama, [{ role: 'system', content: '  Be brief. \n' }]),
    '<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>',
  );
  const zephyr = await load('zephyr');
  assert.equal(
    renderChat(zephyr, [{ role: 'system', content: 'Be brief.' }, ...ASK], { addGenerationPrompt: true }),
    '<|system|>\nBe brief.</s>\n<|user|>\nHow many squares?</s>\n<|assistant|>\n',
  );
});

test('isChatStyle recognises the built-in styles only', () => {
  assert.ok(isChatStyle('chatml'));
  assert.ok(!isChatStyle('toString'));
  assert.ok(!isChatStyle('vicuna'));
});
