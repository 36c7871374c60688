import { test } from 'node:test';
import assert from 'node:assert/strict';
import { env } from '@huggingface/transformers';

import { MemorySource } from '../src/io/source.js';
import { decodeIds, encodeText, loadTokenizer, specialTokenIds } from '../src/io/tokenizer.js';
import { preTokenize } from '../src/tiny/bpe-trainer.js';
import { CHAT_TEMPLATES, type ChatStyle } from '../src/tiny/chat-templates.js';
import { makeTinyTokenizer } from '../src/tiny/make-tokenizer.js';

const STYLES: ChatStyle[] = ['mistral', 'llama3', 'chatml', 'zephyr'];
const files = Object.fromEntries(STYLES.map((s) => [s, makeTinyTokenizer({ style: s, extraSpecialTokens: ['<image>'] })]));
const load = (style: ChatStyle) => loadTokenizer(new MemorySource({ ...files[style]! }, `memory:/${style}`));

const SAMPLES = [
  'Hello, world!',
  'The red circle is next to the blue square.',
  'Emoji 😀👍🏽 and CJK 日本語, Ünïcödé, ﬁ ligature, ÿ€ symbols',
  'Lines\nand\n\nblank lines\r\n\ttabs  and   spaces   ',
  "don't DON'T you'll 12345 3.14 -7",
  '  leading and trailing  ',
  'x'.repeat(500),
  'never seen: qzxj wvk ÆØÅ ☃',
];

test('loading the module turns remote models off', () => {
  assert.equal(env.allowRemoteModels, false);
});

for (const style of STYLES) {
  test(`${style}: any text round-trips through encode/decode`, async () => {
    const tok = await load(style);
    for (const text of SAMPLES) assert.equal(decodeIds(tok, encodeText(tok, text)), text, JSON.stringify(text));
  });

  test(`${style}: special tokens are single ids, never split, and skipped on decode`, async () => {
    const tok = await load(style);
    const spec = CHAT_TEMPLATES[style];
    for (const [i, t] of [...spec.specialTokens, '<image>'].entries()) {
      assert.deepEqual(encodeText(tok, t), [i], t);
      const ids = encodeText(tok, `a${t}b`);
      assert.equal(ids.length, 3, `a${t}b → ${ids}`);
      assert.equal(ids[1], i);
      assert.equal(decodeIds(tok, ids), 'ab');
      assert.equal(decodeIds(tok, ids, false), `a${t}b`);
    }
  });

  test(`${style}: BOS is added only where the real tokenizer adds it`, async () => {
    const tok = await load(style);
    const plain = encodeText(tok, 'hi there');
    const withSpecial = encodeText(tok, 'hi there', true);
    const bos = CHAT_TEMPLATES[style].bos;
    if (CHAT_TEMPLATES[style].addBosInPostProcessor) assert.deepEqual(withSpecial, [tok.convert_tokens_to_ids(bos!), ...plain]);
    else assert.deepEqual(withSpecial, plain);
    assert.deepEqual(encodeText(tok, ''), []);
    assert.equal(decodeIds(tok, []), '');
  });

  test(`${style}: the trainer's pre-tokenizer matches transformers.js's`, async () => {
    const tok = await load(style);
    const preset = style === 'llama3' ? 'llama3' : style === 'chatml' ? 'qwen2' : 'gpt2';
    const runtime = (tok as unknown as { _tokenizer: { pre_tokenizer: (t: string) => string[] } })._tokenizer.pre_tokenizer;
    for (const text of SAMPLES) assert.deepEqual(preTokenize(text, preset), runtime(preset === 'qwen2' ? text.normalize('NFC') : text));
  });
}

test('specialTokenIds per style (eos lists the extra end-of-turn tokens real generation configs stop on)', async () => {
  assert.deepEqual(specialTokenIds(await load('mistral')), { bos: 1, eos: [2], unk: 0 });
  assert.deepEqual(specialTokenIds(await load('zephyr')), { bos: 1, eos: [2], pad: 2, unk: 0 });
  // <|eot_id|> is the eos; <|end_of_text|> (id 1) is also in Llama-3-Instruct's generation_config.
  assert.deepEqual(specialTokenIds(await load('llama3')), { bos: 0, eos: [4, 1] });
  // <|im_end|> is the eos; <|endoftext|> (id 0) is also in Qwen2-Instruct's generation_config.
  assert.deepEqual(specialTokenIds(await load('chatml')), { eos: [2, 0], pad: 0 });
});

test('tokenizer classes and config fields follow the real models', async () => {
  assert.equal((await load('chatml')).constructor.name, 'Qwen2Tokenizer');
  assert.equal((await load('llama3')).constructor.name, 'PreTrainedTokenizer');
  const mistralConfig = files.mistral!['tokenizer_config.json'];
  assert.match(mistralConfig, /"model_max_length": 1000000000000000019884624838656,/);
  const cfg = JSON.parse(mistralConfig);
  assert.equal(cfg.tokenizer_class, 'PreTrainedTokenizerFast');
  assert.equal(cfg.add_bos_token, true);
  assert.equal(cfg.add_eos_token, false);
  assert.deepEqual(cfg.additional_special_tokens, ['<image>']);
  assert.equal(cfg.added_tokens_decoder['3'].content, '<image>');
  const qwen = JSON.parse(files.chatml!['tokenizer_config.json']);
  assert.equal(qwen.model_max_length, 32768);
  assert.equal(qwen.bos_token, null);
  assert.deepEqual(qwen.additional_special_tokens, ['<|im_start|>', '<|im_end|>', '<image>']);
  assert.deepEqual(JSON.parse(files.chatml!['special_tokens_map.json']), {
    additional_special_tokens: ['<|im_start|>', '<|im_end|>', '<image>'],
    eos_token: '<|im_end|>',
    pad_token: '<|endoftext|>',
  });
});

test('tokenizer_class picks the transformers.js class, with a Fast suffix or unknown names', async () => {
  const withClass = async (tokenizer_class: string) => {
    const cfg = { ...JSON.parse(files.mistral!['tokenizer_config.json']), tokenizer_class };
    const src = new MemorySource({ 'tokenizer.json': files.mistral!['tokenizer.json'], 'tokenizer_config.json': JSON.stringify(cfg) });
    return (await loadTokenizer(src)).constructor.name;
  };
  assert.equal(await withClass('LlamaTokenizerFast'), 'LlamaTokenizer');
  assert.equal(await withClass('GPT2Tokenizer'), 'GPT2Tokenizer');
  assert.equal(await withClass('NoSuchTokenizerFast'), 'PreTrainedTokenizer');
  assert.equal(await withClass('env'), 'PreTrainedTokenizer', 'non-tokenizer exports are not used');
});

test('chat template from chat_template.jinja or chat_template.json when the config has none', async () => {
  const { chat_template, ...rest } = JSON.parse(files.chatml!['tokenizer_config.json']);
  const base = { 'tokenizer.json': files.chatml!['tokenizer.json'], 'tokenizer_config.json': JSON.stringify(rest) };
  const msgs = [{ role: 'user', content: 'hi' }];
  const fromJinja = await loadTokenizer(new MemorySource({ ...base, 'chat_template.jinja': chat_template }));
  assert.equal(fromJinja.apply_chat_template(msgs, { tokenize: false }), '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n');
  const fromJson = await loadTokenizer(new MemorySource({ ...base, 'chat_template.json': JSON.stringify({ chat_template: '{{ messages[0].content }}!' }) }));
  assert.equal(fromJson.apply_chat_template(msgs, { tokenize: false }), 'hi!');
  const none = await loadTokenizer(new MemorySource(base));
  assert.throws(() => none.apply_chat_template(msgs, { tokenize: false }), /chat_template/);
});

test('a tokenizer.json without tokenizer_config.json still loads', async () => {
  const tok = await loadTokenizer(new MemorySource({ 'tokenizer.json': files.llama3!['tokenizer.json'] }));
  assert.equal(decodeIds(tok, encodeText(tok, 'shapes and colours')), 'shapes and colours');
});

test('a missing tokenizer.json is a clear error naming the location', async () => {
  const src = new MemorySource({ 'tokenizer_config.json': '{}' }, '/models/tiny');
  await assert.rejects(loadTokenizer(src), (e: Error) => {
    assert.equal(e.name, 'ModelFileError');
    assert.match(e.message, /no tokenizer\.json at \/models\/tiny\/tokenizer\.json/);
    return true;
  });
  await assert.rejects(loadTokenizer(new MemorySource({ 'tokenizer.json': '{"model": 1' }, '/m')), /\/m\/tokenizer\.json is not valid JSON/);
  await assert.rejects(loadTokenizer(new MemorySource({ 'tokenizer.json': '{}' }, '/m')), /\/m\/tokenizer\.json has no "model"/);
});
