import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { runDatasetCheck } from '../node/commands/dataset.js';
import { checkDatasetSplits } from '../node/dataset/check-splits.js';
import { findEvalSplit, listSplits } from '../node/dataset/splits.js';
import { synthShapes } from '../node/dataset/synth-shapes.js';
import { writeDatasetDict } from '../node/dataset/write-dataset.js';
import { captureIO, withTempDir } from './helpers/temp-dir.js';

const jsonl = (rows: unknown[]) => rows.map((r) => JSON.stringify(r)).join('\n') + '\n';

test('dataset check checks every split, counts question types per split, and finds no overlap in clean data', async () => {
  await withTempDir('check-splits', async (dir) => {
    const r = await synthShapes({ out: dir, n: 12, nTest: 6, seed: 3, imageSize: 32, log: () => {} });
    assert.equal(r.rows.train, 12);
    const io = captureIO();
    assert.equal(await runDatasetCheck({ path: dir }, io), 0);
    const text = io.out.join('\n');
    assert.match(text, /^\[train\] .*train\.jsonl: jsonl, 12 rows, 12 valid, none bad$/m);
    assert.match(text, /^\[test\] .*test\.jsonl: jsonl, 6 rows, 6 valid, none bad$/m);
    // Per split, per question type, from meta.jsonl: the counts add up to the split's rows.
    const typeLines = io.out.filter((l) => l.startsWith('question types: '));
    assert.equal(typeLines.length, 2);
    const sums = typeLines.map((l) => [...l.matchAll(/ (\d+)/g)].reduce((s, m) => s + Number(m[1]), 0));
    assert.deepEqual(sums, [12, 6]);
    assert.match(io.out.at(-1)!, /^no overlap between splits \(train\/test: rows and item files compared\)$/);
  });
});

test('dataset check reports a planted train/test overlap: identical rows and identical item files', async () => {
  await withTempDir('check-splits', async (dir) => {
    await synthShapes({ out: dir, n: 8, nTest: 4, seed: 5, imageSize: 32, log: () => {} });
    const train = (await readFile(path.join(dir, 'train.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    const test = (await readFile(path.join(dir, 'test.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    // Plant: train row 2 copied into test under another id; train row 5's picture copied under a new file name
    // and asked about with a different question.
    await copyFile(path.join(dir, train[5].images[0]), path.join(dir, 'images', 'copy-of-five.png'));
    test.push({ ...train[2], id: 'leaked-row' });
    test.push({ id: 'leaked-picture', messages: [{ role: 'user', content: '<image>\nHow many shapes?' }, { role: 'assistant', content: '7' }], images: ['images/copy-of-five.png'] });
    await writeFile(path.join(dir, 'test.jsonl'), jsonl(test));

    const r = await checkDatasetSplits({ path: dir });
    assert.deepEqual(r.splits.map((s) => s.split), ['train', 'test']);
    assert.equal(r.overlap.length, 1);
    const o = r.overlap[0];
    assert.equal(o.identicalRows, 1);
    assert.deepEqual(o.rowExamples, [[String(train[2].id), 'leaked-row']]);
    assert.equal(o.sharedItems, 2, 'row 2 picture and row 5 picture (by content, not by name)');
    assert.ok(o.itemExamples.some(([a, b]) => a === train[5].images[0] && b === 'images/copy-of-five.png'), JSON.stringify(o.itemExamples));

    const io = captureIO();
    assert.equal(await runDatasetCheck({ path: dir }, io), 0, 'overlap is a warning, not a bad row');
    const warning = io.out.find((l) => l.startsWith('warning: overlap between train and test'));
    assert.ok(warning, io.out.join('\n'));
    assert.match(warning, /1 identical row\(s\) \(e\.g\. ".*" = "leaked-row"\); 2 identical item\(s\)/);

    // --split checks one split only, so there is nothing to compare.
    const one = captureIO();
    assert.equal(await runDatasetCheck({ path: dir, split: 'test' }, one), 0);
    assert.match(one.out[0], /test\.jsonl: jsonl, 6 rows, 6 valid, none bad$/);
    assert.ok(!one.out.some((l) => l.includes('overlap')));
  });
});

test('splits: DatasetDict splits, folder files, and the held-out split that goes with a training path', async () => {
  await withTempDir('check-splits', async (dir) => {
    const row = (id: string) => ({ id, messages: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: 'yes' }] });
    await writeDatasetDict(path.join(dir, 'dict'), { train: [row('a')], validation: [row('b')] });
    assert.deepEqual((await listSplits(path.join(dir, 'dict'))).map((s) => [s.name, s.split]), [['train', 'train'], ['validation', 'validation']]);
    assert.equal((await findEvalSplit(path.join(dir, 'dict')))?.split, 'validation');
    const r = await checkDatasetSplits({ path: path.join(dir, 'dict') });
    assert.deepEqual(r.splits.map((s) => [s.split, s.rows]), [['train', 1], ['validation', 1]]);

    await mkdir(path.join(dir, 'f'));
    for (const n of ['train.jsonl', 'test.jsonl', 'train_audio.jsonl', 'test_audio.jsonl', 'meta.jsonl']) await writeFile(path.join(dir, 'f', n), jsonl([row(n)]));
    assert.deepEqual((await listSplits(path.join(dir, 'f'))).map((s) => s.name), ['train', 'train_audio', 'test', 'test_audio']);
    assert.equal((await findEvalSplit(path.join(dir, 'f')))?.name, 'test');
    assert.equal((await findEvalSplit(path.join(dir, 'f', 'train_audio.jsonl')))?.path, path.join(dir, 'f', 'test_audio.jsonl'));
    assert.equal(await findEvalSplit(path.join(dir, 'f', 'test.jsonl')), null);
    assert.equal(await findEvalSplit(path.join(dir, 'dict', 'train')), null);
  });
});
