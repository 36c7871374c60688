import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { PNG } from 'pngjs';
import { readDataset } from '../node/dataset/read-dataset.js';
import { Command } from 'commander';
import { registerDatasetCommands, runDatasetCheck, runDatasetLlava, runDatasetMerge } from '../node/commands/dataset.js';
import { convertLlava } from '../node/dataset/llava.js';
import { mergeDatasets } from '../node/dataset/merge.js';
import { writeJsonl } from '../node/dataset/write-dataset.js';
import { captureIO, withTempDir } from './helpers/temp-dir.js';

function png(rgb: [number, number, number]): Buffer {
  const p = new PNG({ width: 4, height: 4 });
  for (let i = 0; i < 16; i++) p.data.set([...rgb, 255], i * 4);
  return PNG.sync.write(p);
}

const convo = (human: string, gpt = 'A red square.') => [
  { from: 'human', value: human },
  { from: 'gpt', value: gpt },
];

/** A LLaVA-format JSON with two real images and one row for each skip reason. */
async function llavaFixture(dir: string): Promise<{ json: string; images: string }> {
  const images = path.join(dir, 'llava-images');
  await mkdir(path.join(images, 'coco', 'train2017', 'train2017'), { recursive: true });
  await writeFile(path.join(images, 'red.png'), png([255, 0, 0]));
  // Where the seed's finetune script expects COCO images (its _fix_path doubles the folder).
  await writeFile(path.join(images, 'coco', 'train2017', 'train2017', 'blue.png'), png([0, 0, 255]));
  const rows = [
    { id: 'p1', image: 'red.png', conversations: convo('Describe the image.\n<image>') },
    { id: 12, image: 'coco/train2017/blue.png', conversations: [...convo('<image>\nWhat colour?', 'Blue.'), ...convo('Sure?', 'Yes.')] },
    { id: 'missing', image: 'nope.png', conversations: convo('<image>\nHi') },
    { id: 'no-convo', image: 'red.png', conversations: [] },
    { id: 'text', conversations: convo('Hello') },
    { id: 'no-token', image: 'red.png', conversations: convo('What is this?') },
  ];
  const json = path.join(dir, 'llava.json');
  await writeFile(json, JSON.stringify(rows));
  return { json, images };
}

test("dataset llava converts to the seed's schema, places <image> as LLaVA does, and reports skips with reasons", async () => {
  await withTempDir('data-tools', async (dir) => {
    const { json, images } = await llavaFixture(dir);
    const out = path.join(dir, 'out');
    const io = captureIO();
    assert.equal(await runDatasetLlava({ in: [json], images, out }, io), 0);
    const { rows, baseDir } = await readDataset(out);
    assert.equal(baseDir, out);
    assert.deepEqual(rows[0], {
      id: 'p1',
      messages: [
        { role: 'user', content: '<image>\nDescribe the image.' },
        { role: 'assistant', content: 'A red square.' },
      ],
      images: [path.join(images, 'red.png')],
    });
    assert.equal(rows[1].id, '12');
    assert.deepEqual(rows[1].images, [path.join(images, 'coco/train2017/train2017/blue.png')]);
    assert.equal((rows[1].messages as unknown[]).length, 4);
    assert.deepEqual(rows[2], { id: 'no-token', messages: [{ role: 'user', content: '<image>\nWhat is this?' }, { role: 'assistant', content: 'A red square.' }], images: [path.join(images, 'red.png')] });
    assert.deepEqual(rows.map((r) => r.id), ['p1', '12', 'no-token']);
    const text = io.out.join('\n');
    assert.match(text, /converted 3 rows, skipped 3/);
    assert.match(text, /skipped 1: missing image file \(e\.g\. missing\)/);
    assert.match(text, /skipped 1: no conversations \(e\.g\. no-convo\)/);
    assert.match(text, /skipped 1: no image \(text-only row\) \(e\.g\. text\)/);
    assert.match(text, /2 rows had <image> moved or added/);

    const report = await convertLlava({ inputs: [json], images, out: path.join(dir, 'arrow'), format: 'arrow', keepTextOnly: true });
    assert.equal(report.converted, 4);
    const arrow = await readDataset(path.join(dir, 'arrow'));
    assert.equal(arrow.format, 'hf-dataset');
    assert.deepEqual(arrow.rows.find((r) => r.id === 'text')?.images, []);
    assert.deepEqual(arrow.rows[0], rows[0]);
  });
});

test('dataset merge concatenates, shuffles by seed, makes ids unique, rebases relative paths, checks column types', async () => {
  await withTempDir('data-tools', async (dir) => {
    const row = (id: string, img: string) => ({ id, messages: [{ role: 'user', content: '<image>' }, { role: 'assistant', content: id }], images: [img] });
    await mkdir(path.join(dir, 'a', 'img'), { recursive: true });
    await writeFile(path.join(dir, 'a', 'img', 'x.png'), png([0, 255, 0]));
    await writeJsonl(path.join(dir, 'a', 'train.jsonl'), [row('r1', 'img/x.png'), row('r2', 'img/x.png'), row('r3', 'img/x.png')]);
    await writeJsonl(path.join(dir, 'b.jsonl'), [row('r1', '/abs/y.png'), { id: 'r4', messages: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: 'yo' }] }]);
    const io = captureIO();
    const out = path.join(dir, 'merged');
    assert.equal(await runDatasetMerge({ inputs: [path.join(dir, 'a'), path.join(dir, 'b.jsonl')], out, seed: 7 }, io), 0);
    const merged = (await readDataset(out)).rows;
    assert.deepEqual(merged.map((r) => r.id).sort(), ['r1', 'r1-2', 'r2', 'r3', 'r4']);
    assert.deepEqual(merged.find((r) => r.id === 'r2')!.images, [path.join(dir, 'a', 'img', 'x.png')]); // outside out/: made absolute
    assert.deepEqual(merged.find((r) => r.id === 'r1-2')!.images, ['/abs/y.png']);
    assert.deepEqual(merged.find((r) => r.id === 'r4')!.images, []);
    assert.match(io.out.join('\n'), /1 colliding ids renamed \(e\.g\. r1 → r1-2\)/);
    assert.match(io.out.join('\n'), /3 relative media paths rewritten/);

    const again = await mergeDatasets({ inputs: [path.join(dir, 'a'), path.join(dir, 'b.jsonl')], out: path.join(dir, 'm2'), seed: 7 });
    assert.equal(again.rows, 5);
    assert.equal(await readFile(path.join(dir, 'm2', 'train.jsonl'), 'utf8'), await readFile(path.join(out, 'train.jsonl'), 'utf8'));
    const unshuffled = await mergeDatasets({ inputs: [path.join(dir, 'a'), path.join(dir, 'b.jsonl')], out: path.join(dir, 'm3'), shuffle: false });
    assert.equal(unshuffled.rows, 5);
    assert.deepEqual((await readDataset(path.join(dir, 'm3'))).rows.map((r) => r.id), ['r1', 'r2', 'r3', 'r1-2', 'r4']);

    await mergeDatasets({ inputs: [path.join(dir, 'a')], out: dir }); // files under the output folder stay relative
    assert.deepEqual((await readDataset(path.join(dir, 'train.jsonl'))).rows[0].images, ['a/img/x.png']);

    await writeJsonl(path.join(dir, 'c.jsonl'), [{ id: 'z', messages: [], images: [[1, 2]] }]);
    const bad = captureIO();
    assert.equal(await runDatasetMerge({ inputs: [path.join(dir, 'a'), path.join(dir, 'c.jsonl')], out: path.join(dir, 'm4') }, bad), 2);
    assert.match(bad.err[0], /column "images" is list<string> in .*a but list<list<number>> in .*c\.jsonl/);
  });
});

test('dataset check prints counts per modality and exits 1 when a row is bad', async () => {
  await withTempDir('data-tools', async (dir) => {
    await writeFile(path.join(dir, 'a.png'), png([1, 2, 3]));
    const good = { id: 'g', messages: [{ role: 'user', content: 'Compare <image> and <image>' }, { role: 'assistant', content: 'Same.' }, { role: 'user', content: 'Sure?' }, { role: 'assistant', content: 'Yes.' }], images: ['a.png', 'a.png'] };
    await writeJsonl(path.join(dir, 'ok', 'train.jsonl'), [good, { ...good, id: 'h', images: [path.join(dir, 'a.png'), 'a.png'] }]);
    await mkdir(path.join(dir, 'ok'), { recursive: true });
    await writeFile(path.join(dir, 'ok', 'a.png'), png([1, 2, 3]));
    const io = captureIO();
    assert.equal(await runDatasetCheck({ path: path.join(dir, 'ok') }, io), 0);
    assert.match(io.out[0], /ok\/train\.jsonl: jsonl, 2 rows, 2 valid, none bad$/);
    assert.match(io.out[1], /^modality\s+token\s+data key\s+rows\s+items\s+tokens$/);
    assert.match(io.out[2], /^vision_clip\s+<image>\s+images\s+2\s+4\s+4$/);
    assert.match(io.out[3], /turns per row: 2\.00 user, 2\.00 assistant \(4\.00 messages\)/);

    const file = path.join(dir, 'bad.jsonl');
    await writeFile(file, [JSON.stringify({ ...good, id: 'missing-file', images: ['gone.png', 'a.png'] }), '{oops', JSON.stringify({ ...good, id: 'count', images: ['a.png'] })].join('\n'));
    const io2 = captureIO();
    assert.equal(await runDatasetCheck({ path: file, modalityBuilder: 'vision_clip' }, io2), 1);
    const text = io2.out.join('\n');
    assert.match(text, /3 rows, 0 valid, 3 bad/);
    assert.match(text, /row "missing-file" \(#0\): images\[0\]: file not found: .*gone\.png/);
    assert.match(text, /row ".*bad\.jsonl:2" \(#1\): malformed JSON/);
    assert.match(text, /row "count" \(#2\): 2 <image> token\(s\) in the text but 1 item\(s\) in "images"/);
    const io3 = captureIO();
    assert.equal(await runDatasetCheck({ path: path.join(dir, 'nowhere') }, io3), 2);
    assert.match(io3.err[0], /dataset not found/);
  });
});

test('registerDatasetCommands wires the snake_case flags into commander and sets the exit code', async () => {
  await withTempDir('data-tools', async (dir) => {
    const io = captureIO();
    const program = new Command('multi-token').exitOverride();
    registerDatasetCommands(program, io);
    const before = process.exitCode;
    try {
      const out = path.join(dir, 's');
      await program.parseAsync(['dataset', 'synth-shapes', '--out', out, '--n', '3', '--n_test', '2', '--seed', '1', '--image_size', '32', '--mix', 'colour,shape'], { from: 'user' });
      assert.equal(process.exitCode, 0);
      assert.match(io.out.at(-1)!, /wrote 3 train \+ 2 test rows, 5 images/);
      await program.parseAsync(['dataset', 'check', out, '--modality_builder', 'audio_whisper'], { from: 'user' });
      assert.equal(process.exitCode, 1); // image rows are bad for an audio-only model
      await program.parseAsync(['dataset', 'check', path.join(out, 'test.jsonl'), '--modality_builder', 'vision_clip'], { from: 'user' });
      assert.equal(process.exitCode, 0);
    } finally {
      process.exitCode = before;
    }
  });
});
