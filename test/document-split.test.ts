/**
 * The seed's split_text_into_documents: long texts cut at sentence ends into pieces of at most N encoder tokens,
 * as a library function and as `dataset split-documents` (which also repeats the row's <document> per piece).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { MemorySource } from '../src/io/source.js';
import { loadTokenizer, encodeText } from '../src/io/tokenizer.js';
import { makeTinyBert } from '../src/tiny/tiny-bert.js';
import { splitSentences, splitTextIntoDocuments } from '../src/modality/document-gte/split-documents.js';
import { splitDocumentsDataset } from '../node/dataset/split-documents.js';
import { writeDirAtomic } from '../node/atomic-write.js';
import { tmpDir } from './helpers/tiny-vector.js';

const SENTENCES = Array.from({ length: 12 }, (_, i) => `The cat sat on mat number ${i} and looked at the dog.`);
const TEXT = SENTENCES.join(' ');

test('splitTextIntoDocuments: pieces of ≤ maxTokens at sentence boundaries, nothing lost, none empty', async () => {
  const tok = await loadTokenizer(new MemorySource(makeTinyBert({ seed: 1 })));
  assert.deepEqual(splitSentences('One. Two?  Three! Four'), ['One.', 'Two?', 'Three!', 'Four']);
  const per = encodeText(tok, SENTENCES[0]!).length;
  const max = per * 3 + 1;
  const docs = splitTextIntoDocuments(TEXT, tok, { maxTokens: max });
  assert.equal(docs.length, 4, `3 sentences of ${per} tokens fit in ${max}`);
  for (const d of docs) {
    assert.ok(encodeText(tok, d).length <= max);
    assert.match(d, /\.$/, 'ends at a sentence end');
  }
  const norm = (s: string) => encodeText(tok, s).join(',');
  assert.equal(docs.map(norm).join(','), norm(TEXT), 'the same tokens, in order');
  assert.equal(splitTextIntoDocuments(TEXT, tok).length, 1, 'fits in 512 tokens: one document');
  // A sentence longer than the window is its own (long) document, with no empty one before it.
  const long = splitTextIntoDocuments(`${SENTENCES.join(', ')} End.`, tok, { maxTokens: 10 });
  assert.ok(long.every((d) => d.length > 0));
});

test('dataset split-documents: documents become pieces and <document> is repeated to match', async () => {
  const dir = await tmpDir();
  await writeDirAtomic(path.join(dir, 'gte'), makeTinyBert({ seed: 1 }));
  const tok = await loadTokenizer(new MemorySource(makeTinyBert({ seed: 1 })));
  const max = encodeText(tok, SENTENCES[0]!).length * 3 + 1;
  const rows = [
    { id: 'a', documents: [TEXT, 'short note.'], messages: [{ role: 'user', content: 'Compare <document> with <document>' }, { role: 'assistant', content: 'ok' }] },
    { id: 'b', messages: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: 'hello' }] },
  ];
  await writeFile(path.join(dir, 'in.jsonl'), rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  const r = await splitDocumentsDataset({ input: path.join(dir, 'in.jsonl'), out: path.join(dir, 'out'), encoder: path.join(dir, 'gte'), maxTokens: max });
  assert.deepEqual([r.rows, r.split], [2, 1]);
  const out = (await readFile(path.join(dir, 'out', 'train.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(out[0].documents.length, 5);
  assert.equal(out[0].messages[0].content, `Compare ${'<document>'.repeat(4)} with <document>`);
  assert.deepEqual(out[0].documents[4], 'short note.');
  assert.deepEqual(out[1], rows[1]);
});
