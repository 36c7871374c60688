/**
 * The tfjs BERT encoder (GTE's text tower) against an independent PyTorch re-implementation of HF BertModel
 * (bench/reference/bert_ref.py). Expected values live in test/fixtures/bert-ref.json (regenerate with
 * `npx tsx bench/reference/make_bert_fixture.ts`); the tiny checkpoints are rebuilt here from their options.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { tf } from '../src/tf.js';
import { BertEncoder, meanPool, parseBertConfig } from '../src/encoders/bert.js';
import { MemorySource } from '../src/io/source.js';
import { readWeightFiles, WeightStore } from '../src/io/weights.js';
import { loadTokenizer } from '../src/io/tokenizer.js';
import { makeTinyBert, tinyBertConfigJSON, type TinyBertOptions } from '../src/tiny/tiny-bert.js';

await tf.setBackend('cpu');

interface RefCase {
  name: string;
  options: TinyBertOptions;
  texts: (string | [string, string])[];
  input: { input_ids: number[][]; attention_mask: number[][]; token_type_ids: number[][] };
  last_hidden_state: number[][][];
  mean_pooled: number[][];
}

interface TokenizerCase {
  text: string | [string, string];
  input_ids: number[];
  token_type_ids: number[];
}

const fixture = JSON.parse(readFileSync(new URL('./fixtures/bert-ref.json', import.meta.url), 'utf8')) as {
  cases: RefCase[];
  tokenizer_cases: TokenizerCase[];
};
const TOL = 1e-4;

function maxDiff(got: number[], want: number[]): number {
  assert.equal(got.length, want.length);
  return got.reduce((m, v, i) => Math.max(m, Math.abs(v - want[i]!)), 0);
}

for (const c of fixture.cases) {
  test(`BERT forward matches the PyTorch reference: ${c.name}`, async () => {
    const source = new MemorySource(makeTinyBert(c.options));
    const enc = await BertEncoder.load(source);
    const { input_ids, attention_mask, token_type_ids } = c.input;
    const hidden = enc.forward(input_ids, attention_mask, token_type_ids);
    const [b, t, h] = hidden.shape;
    assert.deepEqual([b, t, h], [input_ids.length, input_ids[0]!.length, enc.hiddenSize]);
    const d = maxDiff(Array.from(hidden.dataSync()), c.last_hidden_state.flat(2));
    assert.ok(d < TOL, `last_hidden_state differs by ${d}`);
    const pooled = meanPool(hidden, attention_mask);
    const dp = maxDiff(Array.from(pooled.dataSync()), c.mean_pooled.flat());
    assert.ok(dp < TOL, `mean pooled embedding differs by ${dp}`);
    tf.dispose([hidden, pooled]);
    enc.dispose();
  });
}

test('the WordPiece tokenizer gives the ids of an independent Python WordPiece (bench/reference/wordpiece_ref.py)', async () => {
  const encode = async (options: TinyBertOptions, text: string | [string, string]) => {
    const tok = await loadTokenizer(new MemorySource(makeTinyBert(options)));
    assert.equal(tok.constructor.name, 'BertTokenizer');
    const e = (Array.isArray(text) ? tok(text[0], { text_pair: text[1], return_tensor: false }) : tok(text, { return_tensor: false })) as unknown as {
      input_ids: number[];
      token_type_ids: number[];
    };
    return { ids: e.input_ids, types: e.token_type_ids };
  };
  // The encoder cases' inputs (right-padded batches) and the tokenizer-only cases, all from the Python tokenizer.
  for (const c of fixture.cases) {
    for (const [row, text] of c.texts.entries()) {
      const real = (a: number[]) => a.filter((_, i) => c.input.attention_mask[row]![i] === 1);
      const got = await encode(c.options, text);
      assert.deepEqual(got.ids, real(c.input.input_ids[row]!), `${c.name} row ${row}`);
      assert.deepEqual(got.types, real(c.input.token_type_ids[row]!), `${c.name} row ${row} token types`);
    }
  }
  assert.ok(fixture.tokenizer_cases.length >= 8);
  for (const t of fixture.tokenizer_cases) {
    const got = await encode({}, t.text);
    assert.deepEqual(got.ids, t.input_ids, JSON.stringify(t.text));
    assert.deepEqual(got.types, t.token_type_ids, `${JSON.stringify(t.text)}: token types`);
  }
  const tok = await loadTokenizer(new MemorySource(makeTinyBert({})));
  const text = fixture.cases[0]!.texts[0] as string;
  assert.equal(tok.decode(tok.encode(text), { skip_special_tokens: true }), text.toLowerCase());
});

test("the fixture's ids are Hugging Face tokenizers' (Rust) too, and transformers.js gives them (bench/reference/bert_ids_hf.py)", async () => {
  const hf = JSON.parse(readFileSync(new URL('./fixtures/bert-ids-hf.json', import.meta.url), 'utf8')) as { about: string; cases: TokenizerCase[] };
  assert.match(hf.about, /Hugging Face tokenizers \d+\.\d+/);
  // The same texts, in the same order, as the fixture above: the encoder cases' rows, then the tokenizer cases.
  const fromPython: TokenizerCase[] = [
    ...fixture.cases.flatMap((c) =>
      c.texts.map((text, row) => {
        const real = (a: number[]) => a.filter((_, i) => c.input.attention_mask[row]![i] === 1);
        return { text, input_ids: real(c.input.input_ids[row]!), token_type_ids: real(c.input.token_type_ids[row]!) };
      }),
    ),
    ...fixture.tokenizer_cases,
  ];
  assert.deepEqual(hf.cases, fromPython, 'wordpiece_ref.py and HF tokenizers agree on every text');
  const tok = await loadTokenizer(new MemorySource(makeTinyBert({})));
  for (const t of hf.cases) {
    const e = (Array.isArray(t.text) ? tok(t.text[0], { text_pair: t.text[1], return_tensor: false }) : tok(t.text, { return_tensor: false })) as unknown as {
      input_ids: number[];
      token_type_ids: number[];
    };
    assert.deepEqual([e.input_ids, e.token_type_ids], [t.input_ids, t.token_type_ids], JSON.stringify(t.text));
  }
});

test('padding does not change the real tokens\' outputs', async () => {
  const enc = await BertEncoder.load(new MemorySource(makeTinyBert({ seed: 3 })));
  const ids = [2, 140, 138, 3];
  const alone = enc.forward([ids], [[1, 1, 1, 1]]);
  const padded = enc.forward([[...ids, 0, 0]], [[1, 1, 1, 1, 0, 0]]);
  const a = Array.from(alone.dataSync());
  const p = Array.from(padded.slice([0, 0, 0], [1, 4, enc.hiddenSize]).dataSync());
  assert.ok(maxDiff(p, a) < 1e-5);
  const pa = meanPool(alone, [[1, 1, 1, 1]]).dataSync();
  const pp = meanPool(padded, [[1, 1, 1, 1, 0, 0]]).dataSync();
  assert.ok(maxDiff(Array.from(pp), Array.from(pa)) < 1e-5);
  enc.dispose();
});

test('weights load with or without the "bert." prefix; only the pooler is left unused', async () => {
  for (const prefix of ['', 'bert.'] as const) {
    const source = new MemorySource(makeTinyBert({ seed: 4, prefix }));
    const store = new WeightStore(await readWeightFiles(source), source.location);
    const enc = BertEncoder.fromWeights(parseBertConfig(tinyBertConfigJSON({})), store);
    assert.deepEqual(store.unused(), [`${prefix}pooler.dense.bias`, `${prefix}pooler.dense.weight`].sort());
    enc.dispose();
  }
});

test('config and input errors name the problem', async () => {
  assert.throws(() => parseBertConfig({ hidden_size: 32 }, 'x/config.json'), /x\/config\.json: "vocab_size" must be a number/);
  assert.throws(
    () => parseBertConfig({ vocab_size: 10, position_embedding_type: 'relative_key' }),
    /position_embedding_type "relative_key" is not supported/,
  );
  assert.throws(() => parseBertConfig({ vocab_size: 10, hidden_size: 30, num_attention_heads: 4 }), /not divisible/);
  const files = makeTinyBert({ seed: 5, maxPositions: 8 });
  files.delete('model.safetensors');
  await assert.rejects(BertEncoder.load(new MemorySource(files, 'mem:/gte')), /no weights in mem:\/gte/);
  const enc = await BertEncoder.load(new MemorySource(makeTinyBert({ seed: 5, maxPositions: 8 })));
  assert.throws(() => enc.forward([new Array(9).fill(5)], [new Array(9).fill(1)]), /9 tokens; this model takes at most 8/);
  assert.throws(() => enc.forward([[2, 3]], [[1, 1, 1]]), /inputs disagree/);
  assert.throws(() => enc.forward([[2, 3], [2]], [[1, 1], [1]]), /different lengths/);
  enc.dispose();
});
