/**
 * The seed's document modalities (`document_gte`, `document_gte_x16`) on a tiny GTE-style BERT folder: shapes
 * and projector names as the seed has them, chunking at the encoder's context, documents given inline or by
 * path, and the errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../src/tf.js';
import { MemorySource, type ModelSource } from '../src/io/source.js';
import { BertEncoder, meanPool } from '../src/encoders/bert.js';
import { buildModalities, modalityFromConfig, type BuildContext } from '../src/modality/registry.js';
import '../src/modality/document-gte/register.js';
import { DocumentGTEModality } from '../src/modality/document-gte/document-gte.js';
import { isDocumentReference } from '../src/media/document-text.js';
import { makeTinyBert } from '../src/tiny/tiny-bert.js';
import { Rng } from '../src/util/rng.js';
import { initProjector } from '../src/projector/index.js';

await tf.setBackend('cpu');

/** Context 16 → 14 document tokens per chunk ([CLS] and [SEP] take 2). */
const MAX = 16;
const ROOM = MAX - 2;

/** A checkpoint folder with the encoder in `gte/`, as a self-contained LMM checkpoint would ship it. */
function checkpoint(): ModelSource {
  const files: Record<string, Uint8Array> = {};
  for (const [k, v] of makeTinyBert({ seed: 9, maxPositions: MAX })) files[`gte/${k}`] = v;
  return new MemorySource(files, 'mem:/ckpt');
}

async function docModality(builder = 'document_gte', options: Record<string, unknown> = {}): Promise<DocumentGTEModality> {
  const [m] = await buildModalities(builder, { source: checkpoint(), options: { encoder: 'gte', ...options } });
  assert.ok(m instanceof DocumentGTEModality);
  return m;
}

const words = (n: number) => new Array<string>(n).fill('red').join(' ');
const rand = () => new Rng(1);

test('document_gte and document_gte_x16 have the seed\'s shape and projector names', async () => {
  const m = await docModality();
  assert.deepEqual([m.name, m.token, m.dataKey, m.tokenWidth], ['document_gte', '<document>', 'documents', 4]);
  assert.deepEqual(m.projectorSpec, { type: 'vector_mlp', inputSize: 32, layers: 2, numTokens: 4 });
  const r = rand();
  const p = initProjector(m.projectorSpec, 48, () => r.next());
  const names = [...p.parameters().keys()].sort();
  assert.equal(names.length, 16);
  assert.ok(names.includes('mlps.0.0.weight') && names.includes('mlps.3.2.bias'));
  assert.deepEqual(p.parameters().get('mlps.0.0.weight')!.shape, [48, 32]);
  assert.deepEqual(p.parameters().get('mlps.0.2.weight')!.shape, [48, 48]);
  const x16 = await docModality('document_gte_x16');
  assert.deepEqual([x16.name, x16.tokenWidth], ['document_gte', 32]);
  p.dispose();
  m.dispose();
  x16.dispose();
});

test('a short document is GTE\'s average_pool of [CLS] text [SEP], shaped [n, 1, hidden]', async () => {
  const m = await docModality();
  const text = 'The red circle is next to the blue square.';
  const [feats] = await m.encode([await m.preprocess([text, 'A dog barks.'])]);
  assert.deepEqual(feats!.shape, [2, 1, 32]);
  const enc = await BertEncoder.load(new MemorySource(makeTinyBert({ seed: 9, maxPositions: MAX })));
  const ids = m.options.tokenizer.encode(text);
  const hidden = enc.forward([ids], [ids.map(() => 1)]);
  const want = meanPool(hidden, [ids.map(() => 1)]).dataSync();
  const got = feats!.slice([0, 0, 0], [1, 1, 32]).dataSync();
  for (let i = 0; i < 32; i++) assert.ok(Math.abs(got[i]! - want[i]!) < 1e-5);
  const [empty] = await m.encode([await m.preprocess([])]);
  assert.deepEqual(empty!.shape, [0, 1, 32]);
  tf.dispose([feats!, hidden, empty!]);
  enc.dispose();
  m.dispose();
});

test('chunking: max-length tokens → 1 chunk, one more → 2; the embedding weights chunks by length', async () => {
  const m = await docModality();
  assert.equal(m.maxLength, MAX);
  const exact = await m.preprocess([words(ROOM)]);
  assert.deepEqual(exact.chunks.map((c) => c.length), [MAX]);
  const over = await m.preprocess([words(ROOM + 1)]);
  assert.deepEqual(over.chunks.map((c) => c.length), [MAX, 3]);
  assert.deepEqual(over.owner, [0, 0]);
  const two = await m.preprocess([words(2 * ROOM + 5), 'blue']);
  assert.deepEqual(two.chunks.map((c) => c.length), [MAX, MAX, 7, 3]);
  assert.deepEqual(two.owner, [0, 0, 0, 1]);

  // Document embedding = Σ len(chunk)·pool(chunk) / Σ len(chunk).
  const [feats] = await m.encode([over]);
  const enc = m.options.encoder;
  const pools = over.chunks.map((c) => {
    const h = enc.forward([c], [c.map(() => 1)]);
    const p = Array.from(meanPool(h, [c.map(() => 1)]).dataSync());
    h.dispose();
    return p;
  });
  const got = feats!.dataSync();
  for (let i = 0; i < 32; i++) {
    const want = (MAX * pools[0]![i]! + 3 * pools[1]![i]!) / (MAX + 3);
    assert.ok(Math.abs(got[i]! - want) < 1e-5, `feature ${i}: ${got[i]} vs ${want}`);
  }
  feats!.dispose();

  const trunc = await docModality('document_gte', { longDocuments: 'truncate' });
  assert.deepEqual((await trunc.preprocess([words(ROOM + 1)])).chunks.map((c) => c.length), [MAX]);
  trunc.dispose();
  m.dispose();
});

test('an empty document is an error naming the row and item', async () => {
  const m = await docModality();
  await assert.rejects(m.preprocess(['fine', '   '], { rowId: 'r7' }), /row "r7": documents\[1\]: the document is empty/);
  await assert.rejects(m.preprocess(['']), /documents\[0\]: the document is empty/);
  await assert.rejects(m.preprocess([42]), /documents\[0\]: a document must be text/);
  m.dispose();
});

test('documents by path, URL or data URL read through loadBytes and match the inline text', async () => {
  const m = await docModality();
  const text = 'Count the dots: there are seven dots in the first row.';
  const files: Record<string, string> = { 'notes/doc.txt': text, 'https://example.org/a.md': `\uFEFF${text}` };
  const seen: string[] = [];
  const ctx = {
    rowId: 'r1',
    loadBytes: async (ref: string) => {
      seen.push(ref);
      if (!(ref in files)) throw new Error('not found');
      return new TextEncoder().encode(files[ref]);
    },
  };
  const dataUrl = `data:text/plain;base64,${btoa(text)}`;
  const items = [text, 'notes/doc.txt', 'https://example.org/a.md', { path: 'notes/doc.txt' }, dataUrl, new TextEncoder().encode(text)];
  const [feats] = await m.encode([await m.preprocess(items, ctx)]);
  assert.deepEqual(seen, ['notes/doc.txt', 'https://example.org/a.md', 'notes/doc.txt']);
  const rows = tf.unstack(feats!.reshape([items.length, 32]));
  const first = rows[0]!.dataSync();
  for (const r of rows.slice(1)) r.dataSync().forEach((v, i) => assert.ok(Math.abs(v - first[i]!) < 1e-6));
  tf.dispose([feats!, ...rows]);

  // {text} is always inline, even when it looks like a file name.
  const inline = await m.preprocess([{ text: 'notes/doc.txt' }], ctx);
  assert.equal(seen.length, 3);
  assert.equal(inline.chunks.length, 1);
  await assert.rejects(m.preprocess(['missing.txt'], ctx), /row "r1": documents\[0\]: could not read "missing\.txt": not found/);
  await assert.rejects(m.preprocess(['notes/doc.txt']), /documents\[0\]: "notes\/doc\.txt" refers to a file, but no file loader/);
  m.dispose();
});

test('the path-or-text rule', () => {
  for (const s of ['a.txt', '/data/x/report.MD', 'https://h/x', 'file:///tmp/a', 'data:text/plain,hi', 'dir/page.html']) {
    assert.ok(isDocumentReference(s), s);
  }
  for (const s of ['Just some text.', 'read a.txt\nthen b.txt', ' a.txt', 'notes', 'image.png', 'x'.repeat(1100) + '.txt']) {
    assert.ok(!isDocumentReference(s), s);
  }
});

test('config round trip and encoder location errors', async () => {
  const m = await docModality('document_gte_x16', { projectorLayers: 1 });
  const cfg = m.toConfig();
  assert.deepEqual(cfg, {
    kind: 'document_gte',
    name: 'document_gte',
    token: '<document>',
    dataKey: 'documents',
    numTokens: 32,
    projectorLayers: 1,
    longDocuments: 'mean',
    encoder: 'gte',
  });
  const back = await modalityFromConfig(cfg, { source: checkpoint() });
  assert.deepEqual([back.tokenWidth, back.projectorSpec], [32, m.projectorSpec]);
  back.dispose?.();
  m.dispose();

  // ctx.open resolves a path outside the checkpoint.
  const opened: string[] = [];
  const ctx: BuildContext = {
    source: checkpoint(),
    open: (w) => {
      opened.push(w);
      return new MemorySource(makeTinyBert({ seed: 9, maxPositions: MAX }), w);
    },
  };
  const [outside] = await buildModalities('document_gte', { ...ctx, options: { encoder: '/models/gte-small' } });
  assert.deepEqual(opened, ['/models/gte-small']);
  outside!.dispose?.();

  // No encoder option: the seed's default id (here not in the checkpoint, so opening it fails naming it).
  await assert.rejects(buildModalities('document_gte', { source: checkpoint(), open: (w) => { throw new Error(`opened ${w}`); } }), /opened thenlper\/gte-large/);
  await assert.rejects(
    buildModalities('document_gte', { source: checkpoint(), options: { encoder: 'nope' } }),
    /missing file mem:\/ckpt\/nope\/config\.json/,
  );
  await assert.rejects(docModality('document_gte', { maxLength: 99 }), /maxLength 99 exceeds the encoder's max_position_embeddings 16/);
});
