import { test } from 'node:test';
import assert from 'node:assert/strict';

import { byteToUnicode, preTokenize, trainByteLevelBPE } from '../src/tiny/bpe-trainer.js';
import { TINY_CORPUS } from '../src/tiny/corpus.js';
import { makeTinyTokenizer, stringifyTokenizerJSON } from '../src/tiny/make-tokenizer.js';
import type { ChatStyle } from '../src/tiny/chat-templates.js';

const STYLES: ChatStyle[] = ['mistral', 'llama3', 'chatml', 'zephyr'];

test('byteToUnicode is GPT-2 bytes_to_unicode: 256 distinct printable characters, ASCII kept', () => {
  const m = byteToUnicode();
  assert.equal(new Set(m).size, 256);
  assert.equal(m[0x41], 'A');
  assert.equal(m[0x20], 'Ġ'); // space
  assert.equal(m[0x0a], 'Ċ'); // newline
  assert.equal(m[0x00], 'Ā');
});

// Expected merges produced by the Rust trainer (tokenizers 0.23.2, BpeTrainer with
// initial_alphabet = ByteLevel.alphabet(), special_tokens ['<s>', '</s>'], vocab_size 278) on this corpus.
const PIN_CORPUS = ['the cat sat on the mat', 'the dog sat on the log', 'a cat and a dog', '12 cats, 345 dogs!', 'the end\n\nthe end'];
const COMMON = [['a', 't'], ['h', 'e'], ['t', 'he'], ['o', 'g'], ['c', 'at'], ['d', 'og'], ['n', 'd'], ['Ġ', 'cat'], ['Ġ', 'dog'],
  ['e', 'nd'], ['o', 'n'], ['s', 'at'], ['Ġ', 'a'], ['Ġ', 'the'], ['Ġ', 'end'], ['Ġ', 'on'], ['Ġ', 'sat']];
const HF_MERGES = {
  gpt2: [...COMMON, ['1', '2'], ['3', '4'], ['l', 'og']],
  qwen2: [...COMMON, ['l', 'og'], ['m', 'at'], ['Ċ', 'Ċ']],
};

for (const preset of ['gpt2', 'qwen2'] as const) {
  test(`trainer reproduces the Rust BpeTrainer's merges (${preset} pre-tokenizer)`, () => {
    const json = trainByteLevelBPE(PIN_CORPUS, { vocabSize: 278, specialTokens: ['<s>', '</s>'], preset });
    assert.deepEqual(json.model.merges, HF_MERGES[preset]);
    assert.equal(Object.keys(json.model.vocab).length, 278);
  });
}

test('vocabulary layout: special tokens 0..k-1, then 256 bytes, then merges; exact size', () => {
  const specialTokens = ['<unk>', '<s>', '</s>', '<image>'];
  const json = trainByteLevelBPE(TINY_CORPUS, { vocabSize: 512, specialTokens, bosToken: '<s>' });
  const { vocab, merges } = json.model;
  const byId = Object.entries(vocab).sort((a, b) => a[1] - b[1]);
  assert.equal(byId.length, 512);
  assert.deepEqual(byId.slice(0, 4).map(([t]) => t), specialTokens);
  assert.deepEqual(new Set(byId.slice(4, 260).map(([t]) => t)), new Set(byteToUnicode()));
  assert.deepEqual(byId.map(([, i]) => i), [...Array(512).keys()]);
  assert.ok(merges.length >= 512 - 260);
  for (const m of merges) {
    assert.ok(Array.isArray(m) && m.length === 2, 'merges are [left, right] pairs');
    assert.ok(vocab[m[0] + m[1]] !== undefined, `merge result ${m.join('+')} is in the vocab`);
  }
  assert.deepEqual(json.added_tokens.map((t) => [t.id, t.content, t.special, t.normalized]), [
    [0, '<unk>', true, false],
    [1, '<s>', true, false],
    [2, '</s>', true, false],
    [3, '<image>', true, false],
  ]);
  assert.equal(json.pre_tokenizer.type, 'ByteLevel');
  assert.equal(json.decoder.type, 'ByteLevel');
  assert.deepEqual(json.post_processor.single, [
    { SpecialToken: { id: '<s>', type_id: 0 } },
    { Sequence: { id: 'A', type_id: 0 } },
  ]);
});

test('no BOS option gives a plain ByteLevel post-processor (Qwen2 style)', () => {
  const json = trainByteLevelBPE(TINY_CORPUS, { vocabSize: 300, specialTokens: ['<|endoftext|>'], preset: 'qwen2' });
  assert.equal(json.post_processor.type, 'ByteLevel');
  assert.deepEqual(json.normalizer, { type: 'NFC' });
});

test('training 512 tokens on the built-in corpus is fast', () => {
  const t0 = performance.now();
  trainByteLevelBPE(TINY_CORPUS, { vocabSize: 512, specialTokens: ['<s>'] });
  const ms = performance.now() - t0;
  assert.ok(ms < 1000, `took ${ms.toFixed(0)} ms`);
});

test('builds are deterministic: two builds of each style are byte-identical', () => {
  for (const style of STYLES) {
    const a = makeTinyTokenizer({ style, extraSpecialTokens: ['<image>'] });
    const b = makeTinyTokenizer({ style, extraSpecialTokens: ['<image>'] });
    assert.deepEqual(a, b, style);
  }
});

test('stringifyTokenizerJSON keeps the vocab in id order and parses back to the same object', () => {
  const json = trainByteLevelBPE(['1 12 123 1234 12345 a1 b22'], { vocabSize: 270, specialTokens: ['<s>'] });
  const text = stringifyTokenizerJSON(json);
  assert.deepEqual(JSON.parse(text), json);
  const start = text.indexOf('"vocab": {');
  const ids = [...text.slice(start, text.indexOf('}', start)).matchAll(/: (\d+)/g)].map((m) => Number(m[1]));
  assert.deepEqual(ids, [...Array(ids.length).keys()]);
  assert.ok(json.model.vocab['12'] !== undefined, 'an integer-like token exists, so ordering matters');
});

test('preTokenize splits like the real tokenizers (contractions, digit runs, whitespace)', () => {
  assert.deepEqual(preTokenize("I'LL pay 12345 now\n\n  ok", 'gpt2'), ['I', "'", 'LL', 'Ġpay', 'Ġ12345', 'Ġnow', 'ĊĊĠ', 'Ġok']);
  assert.deepEqual(preTokenize("I'LL pay 12345", 'llama3'), ['I', "'LL", 'Ġpay', 'Ġ', '123', '45']);
  assert.deepEqual(preTokenize('pay 123', 'qwen2'), ['pay', 'Ġ', '1', '2', '3']);
  assert.deepEqual(preTokenize('e\u0301', 'qwen2'), preTokenize('\u00e9', 'gpt2'), 'qwen2 applies NFC');
});

test('invalid options fail with a clear message', () => {
  assert.throws(() => trainByteLevelBPE(['x'], { vocabSize: 200, specialTokens: [] }), /vocabSize 200/);
  assert.throws(() => trainByteLevelBPE(['x'], { vocabSize: 300, specialTokens: ['<a>', '<a>'] }), /duplicate/);
  assert.throws(() => trainByteLevelBPE(['x'], { vocabSize: 300, specialTokens: [], bosToken: '<s>' }), /bosToken/);
});

test('a small corpus stops early instead of inventing merges', () => {
  const json = trainByteLevelBPE(['ab ab'], { vocabSize: 400, specialTokens: [] });
  assert.deepEqual(json.model.merges, [['a', 'b'], ['Ġ', 'ab']]);
  assert.equal(Object.keys(json.model.vocab).length, 258);
});
