import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { Field, List, RecordBatch, Schema, Struct, Table, Utf8, Int64, Binary, makeData, tableToIPC, tableFromIPC, vectorFromArray, type DataType } from 'apache-arrow';
import { readDataset, readDatasetRows, resolveMediaPath, type UnreadableRow } from '../node/dataset/read-dataset.js';
import { writeDatasetDict, writeSaveToDisk } from '../node/dataset/write-dataset.js';
import { withTempDir } from './helpers/temp-dir.js';

const row = (id: string, extra: Record<string, unknown> = {}) => ({
  id,
  messages: [
    { role: 'user', content: `Describe <image> ${id}` },
    { role: 'assistant', content: 'A potato.' },
  ],
  images: [`img/${id}.png`],
  ...extra,
});

test('a .json array and a {"data": [...]} object are read in order, with sources', async () => {
  await withTempDir('data-read', async (dir) => {
    const a = path.join(dir, 'a.json');
    await writeFile(a, JSON.stringify([row('r0'), row('r1')], null, 2));
    const got = [];
    for await (const r of readDatasetRows(a)) got.push(r);
    assert.deepEqual(got.map((r) => r.row), [row('r0'), row('r1')]);
    assert.deepEqual(got.map((r) => r.index), [0, 1]);
    assert.equal(got[1].source, `${a}:18`); // the second element starts on line 18 of the pretty-printed file
    const b = path.join(dir, 'b.json');
    await writeFile(b, JSON.stringify({ data: [row('x')] }));
    const ds = await readDataset(b);
    assert.equal(ds.format, 'json');
    assert.deepEqual(ds.rows, [row('x')]);
    assert.equal(ds.baseDir, dir);
  });
});

test('a large .json array is streamed across chunks, with brackets, escapes and multi-byte text in strings', async () => {
  await withTempDir('data-read', async (dir) => {
    const rows = Array.from({ length: 1500 }, (_, i) => row(`r${i}`, { note: `]} [{ \\" ünïcödé ✓ "quoted" ${'x'.repeat(i % 97)}` }));
    const file = path.join(dir, 'big.json');
    await writeFile(file, JSON.stringify(rows));
    assert.ok((await readFile(file)).length > 200_000); // several 64 KiB read chunks
    const ds = await readDataset(file);
    assert.deepEqual(ds.rows, rows);
  });
});

test('a malformed JSON element or JSONL line is an error naming file:line, or a skipped bad row on request', async () => {
  await withTempDir('data-read', async (dir) => {
    const jsonl = path.join(dir, 'rows.jsonl');
    await writeFile(jsonl, [JSON.stringify(row('a')), '', '{"id": "b", "messages": [', JSON.stringify(row('c')), '42'].join('\n'));
    await assert.rejects(readDataset(jsonl), (e: Error) => e.message.startsWith(`${jsonl}:3: malformed JSON`));
    const bad: UnreadableRow[] = [];
    const ds = await readDataset(jsonl, { skipBadRows: true, onBadRow: (b) => bad.push(b) });
    assert.deepEqual(ds.rows.map((r) => r.id), ['a', 'c']);
    assert.deepEqual(ds.indices, [0, 2]);
    assert.deepEqual(bad.map((b) => b.source), [`${jsonl}:3`, `${jsonl}:5`]);
    assert.match(bad[1].message, /row must be a JSON object/);
    assert.equal(ds.unreadable.length, 2);

    const json = path.join(dir, 'rows.json');
    await writeFile(json, `[\n${JSON.stringify(row('a'))},\n{"id": oops},\n${JSON.stringify(row('c'))}\n]\n`);
    await assert.rejects(readDataset(json), /rows\.json:3: malformed JSON/);
    assert.deepEqual((await readDataset(json, { skipBadRows: true })).rows.map((r) => r.id), ['a', 'c']);
    await writeFile(json, `[${JSON.stringify(row('a'))},`);
    await assert.rejects(readDataset(json, { skipBadRows: true }), /unexpected end of file/);
  });
});

/** Builds a save_to_disk folder by hand, as pyarrow/datasets lay it out, independent of our writer. */
async function handMadeSaveToDisk(dir: string): Promise<void> {
  const msg = new List(new Field('item', new Struct([new Field('role', new Utf8(), true), new Field('content', new Utf8(), true)]), true));
  const imageFeature = new List(new Field('item', new Struct([new Field('bytes', new Binary(), true), new Field('path', new Utf8(), true)]), true));
  const fields = [new Field('id', new Int64(), true), new Field('messages', msg, true), new Field('images', imageFeature, true)];
  const features = {
    id: { dtype: 'int64', _type: 'Value' },
    messages: [{ role: { dtype: 'string', _type: 'Value' }, content: { dtype: 'string', _type: 'Value' } }],
    images: { feature: { _type: 'Image' }, _type: 'Sequence' },
  };
  const schema = new Schema(fields, new Map([['huggingface', JSON.stringify({ info: { features }, fingerprint: 'abc' })]]));
  const shard = (ids: number[]) => {
    const cols = [
      vectorFromArray(ids.map(BigInt), new Int64()),
      vectorFromArray(ids.map((i) => [{ role: 'user', content: `<image> ${i}` }, { role: 'assistant', content: `r${i}` }]), msg),
      vectorFromArray(ids.map((i) => [i % 2 ? { bytes: new Uint8Array([i]), path: null } : { bytes: null, path: `p${i}.png` }]), imageFeature),
    ];
    const data = makeData({ type: new Struct(fields), length: ids.length, nullCount: 0, children: cols.map((c) => c.data[0]) });
    return tableToIPC(new Table([new RecordBatch(schema, data)]), 'stream');
  };
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'data-00000-of-00002.arrow'), shard([0, 1]));
  await writeFile(path.join(dir, 'data-00001-of-00002.arrow'), shard([2]));
  await writeFile(path.join(dir, 'dataset_info.json'), JSON.stringify({ citation: '', description: '', features, homepage: '', license: '' }));
  const files = ['data-00000-of-00002.arrow', 'data-00001-of-00002.arrow'].map((filename) => ({ filename }));
  await writeFile(path.join(dir, 'state.json'), JSON.stringify({ _data_files: files, _fingerprint: 'abc', _format_columns: null, _format_kwargs: {}, _format_type: null, _output_all_columns: false, _split: null }));
}

test('a save_to_disk folder (Arrow stream shards) reads into plain rows, HF Image cells as path or bytes', async () => {
  await withTempDir('data-read', async (dir) => {
    const ds0 = path.join(dir, 'hf');
    await handMadeSaveToDisk(ds0);
    const ds = await readDataset(ds0);
    assert.equal(ds.format, 'hf-dataset');
    assert.equal(ds.baseDir, ds0);
    assert.deepEqual(ds.rows.map((r) => r.id), [0, 1, 2]); // int64 → number
    assert.deepEqual(ds.rows[2].messages, [{ role: 'user', content: '<image> 2' }, { role: 'assistant', content: 'r2' }]);
    assert.deepEqual(ds.rows[0].images, ['p0.png']);
    assert.deepEqual(ds.rows[1].images, [new Uint8Array([1])]);
    assert.equal(ds.sources[2], path.join(ds0, 'data-00001-of-00002.arrow#0')); // row 0 of the second shard
  });
});

test('writeSaveToDisk writes the layout datasets writes, and it reads back', async () => {
  await withTempDir('data-read', async (dir) => {
    const rows = [row('a'), { ...row('b'), images: [] }, { id: 'c', messages: row('c').messages, vectors: [[1, 2.5]] }];
    const out = path.join(dir, 'ds');
    assert.deepEqual(await writeSaveToDisk(out, rows), ['data-00000-of-00001.arrow']);
    const state = JSON.parse(await readFile(path.join(out, 'state.json'), 'utf8'));
    assert.deepEqual(state._data_files, [{ filename: 'data-00000-of-00001.arrow' }]);
    assert.deepEqual(Object.keys(state), [...Object.keys(state)].sort());
    const info = JSON.parse(await readFile(path.join(out, 'dataset_info.json'), 'utf8'));
    assert.deepEqual(info.features.images, { feature: { dtype: 'string', _type: 'Value' }, _type: 'Sequence' });
    assert.deepEqual(info.features.messages, [{ role: { dtype: 'string', _type: 'Value' }, content: { dtype: 'string', _type: 'Value' } }]);
    const bytes = await readFile(path.join(out, 'data-00000-of-00001.arrow'));
    assert.deepEqual([...bytes.subarray(0, 4)], [255, 255, 255, 255]); // IPC stream continuation marker, not the "ARROW1" file magic
    const table = tableFromIPC(bytes);
    assert.deepEqual(JSON.parse(table.schema.metadata.get('huggingface')!).info.features, info.features);
    assert.equal(String(table.schema.fields.find((f) => f.name === 'messages')!.type as DataType), 'List<Struct<{role:Utf8, content:Utf8}>>');
    const back = await readDataset(out);
    assert.deepEqual(back.rows[0], { ...row('a'), vectors: null });
    assert.deepEqual(back.rows[2].vectors, [[1, 2.5]]);
    assert.deepEqual(back.rows[2].images, null);
    // Sharding, and stale shards of an earlier write are removed.
    assert.equal((await writeSaveToDisk(out, rows, { maxShardBytes: 100 })).length, 3);
    assert.deepEqual((await readDataset(out)).rows.map((r) => r.id), ['a', 'b', 'c']);
  });
});

test('a DatasetDict folder reads its train split (or the one asked for); a folder with train.jsonl reads it', async () => {
  await withTempDir('data-read', async (dir) => {
    const dd = path.join(dir, 'dd');
    await writeDatasetDict(dd, { train: [row('t0'), row('t1')], test: [row('x0')] });
    const train = await readDataset(dd);
    assert.equal(train.format, 'hf-dataset-dict');
    assert.deepEqual(train.rows.map((r) => r.id), ['t0', 't1']);
    assert.equal(train.baseDir, dd);
    assert.deepEqual((await readDataset(dd, { split: 'test' })).rows.map((r) => r.id), ['x0']);
    await assert.rejects(readDataset(dd, { split: 'validation' }), /no "validation" split \(splits: train, test\)/);

    const folder = path.join(dir, 'plain');
    await mkdir(folder);
    await writeFile(path.join(folder, 'train.jsonl'), JSON.stringify(row('j')) + '\n');
    const j = await readDataset(folder);
    assert.equal(j.format, 'jsonl');
    assert.equal(j.baseDir, folder);
    assert.equal(resolveMediaPath('img/j.png', j.baseDir), path.join(folder, 'img/j.png'));
    assert.equal(resolveMediaPath('https://x/y.png', j.baseDir), 'https://x/y.png');
    await assert.rejects(readDataset(path.join(dir, 'nothing')), /dataset not found/);
    await mkdir(path.join(dir, 'empty'));
    await assert.rejects(readDataset(path.join(dir, 'empty')), /not a dataset folder/);
  });
});
