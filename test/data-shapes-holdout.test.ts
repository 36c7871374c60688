import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { synthShapes, holdoutFromSpec } from '../node/dataset/synth-shapes.js';
import { runDatasetSynthShapes } from '../node/commands/dataset.js';
import { classifyRow, classifyShape, DEFAULT_HOLDOUT, validateHoldout, type HoldoutRule, type ShapeSpec } from '../src/data/shapes.js';

interface Meta {
  id: string;
  split: string;
  question_type: string;
  images: { file: string; shapes: ShapeSpec[] }[];
}

const rule: HoldoutRule = DEFAULT_HOLDOUT;
const shape = (o: Partial<ShapeSpec>): ShapeSpec => ({ kind: 'square', colour: 'red', cx: 10, cy: 50, r: 15, ...o });

test('classifyShape: the box, the radius bands and the pairs, with [lo, hi) bounds', () => {
  assert.equal(classifyShape(rule, shape({}), 64), 'train');
  assert.equal(classifyShape(rule, shape({ cx: 36, cy: 20 }), 64), 'regions', 'x = 36 px is the box edge (inclusive)');
  assert.equal(classifyShape(rule, shape({ cx: 44, cy: 20 }), 64), 'train', 'x = 44 px is past the box (exclusive)');
  assert.equal(classifyShape(rule, shape({ cx: 40, cy: 32 }), 64), 'train', 'below the top half');
  assert.equal(classifyShape(rule, shape({ r: 19 }), 64), 'regions', 'r = 19 px is 29.7% of the canvas');
  assert.equal(classifyShape(rule, shape({ r: 17 }), 64), 'train', 'r = 17 px (26.6%) is between the bands');
  assert.equal(classifyShape(rule, shape({ r: 7 }), 64), 'regions', 'r = 7 px is 10.9%');
  assert.equal(classifyShape(rule, shape({ r: 7 }), 128), 'train', 'the same radius is outside the band on a larger canvas');
  assert.equal(classifyShape(rule, shape({ colour: 'green', kind: 'star', cx: 40, cy: 20 }), 64), 'pairs', 'a held-out pair wins over a region');
  // A row is trainable only when nothing in it is held out, and naming a held-out pair is enough to hold it out.
  const plain = { size: 64, shapes: [shape({})] };
  assert.equal(classifyRow(rule, [plain, { size: 64, shapes: [shape({ cx: 40, cy: 20 })] }]), 'regions');
  assert.equal(classifyRow(rule, [plain], [{ colour: 'orange', kind: 'circle' }]), 'pairs');
});

test('validateHoldout names the field at fault; holdoutFromSpec reads default, none and JSON', async () => {
  assert.throws(() => validateHoldout({ positions: { x: [0.5, 0.4], y: [0, 1] } }), /positions\.x must be \[lo, hi\]/);
  assert.throws(() => validateHoldout({ radii: [[0.1, 0.2], [2, 3]] }), /radii\[1\]/);
  assert.throws(() => validateHoldout({ pairs: [{ colour: 'pink', kind: 'star' }] }), /pairs\[0\]\.colour must be one of red/);
  assert.throws(() => validateHoldout({ boxes: [] }), /unknown field "boxes"/);
  assert.deepEqual(await holdoutFromSpec('default'), DEFAULT_HOLDOUT);
  assert.equal(await holdoutFromSpec('none'), undefined);
  assert.deepEqual(await holdoutFromSpec('{"pairs": [{"colour": "red", "kind": "star"}]}'), { pairs: [{ colour: 'red', kind: 'star' }] });
  await assert.rejects(holdoutFromSpec('/nonexistent/rule.json'), /--holdout: "\/nonexistent\/rule\.json" is not default, none/);
});

test('synth-shapes with a holdout rule: training never shows or names what it holds out; the held-out splits hold only that', async () => {
  const root = await mkdtemp(path.join(tmpdir(), 'mt-holdout-'));
  try {
    const out = path.join(root, 'data');
    await synthShapes({ out, n: 120, nTest: 60, seed: 3, holdout: rule });
    const info = JSON.parse(await readFile(path.join(out, 'info.json'), 'utf8'));
    assert.deepEqual(info.holdout, rule, 'info.json records the rule that made the split');
    assert.deepEqual(info.splits, { train: 120, test: 60, test_regions: 60, test_pairs: 60 });
    const meta = (await readFile(path.join(out, 'meta.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Meta);
    const rows = new Map<string, { messages: { content: string }[] }>();
    for (const split of ['train', 'test', 'test_regions', 'test_pairs']) {
      for (const l of (await readFile(path.join(out, `${split}.jsonl`), 'utf8')).trim().split('\n')) {
        const r = JSON.parse(l);
        rows.set(r.id, r);
      }
    }
    const pairNamed = (q: string) => (rule.pairs ?? []).some((p) => q.includes(`${p.colour} ${p.kind}`));
    const bySplit: Record<string, number> = {};
    for (const m of meta) {
      bySplit[m.split] = (bySplit[m.split] ?? 0) + 1;
      const classes = m.images.flatMap((img) => img.shapes.map((s) => classifyShape(rule, s, 64)));
      const named = pairNamed(rows.get(m.id)!.messages[0].content);
      if (m.split === 'train' || m.split === 'test') {
        assert.ok(classes.every((c) => c === 'train') && !named, `${m.id} is in distribution`);
      } else if (m.split === 'test_regions') {
        assert.ok(classes.includes('regions') && !classes.includes('pairs') && !named, `${m.id} has a shape in a held-out region`);
      } else {
        assert.ok(classes.includes('pairs') || named, `${m.id} shows or names a held-out pair`);
      }
    }
    assert.deepEqual(bySplit, { train: 120, test: 60, test_regions: 60, test_pairs: 60 });
    // Every question type reaches the held-out splits.
    for (const split of ['test_regions', 'test_pairs']) {
      assert.equal(new Set(meta.filter((m) => m.split === split).map((m) => m.question_type)).size, 6, split);
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('dataset synth-shapes --holdout: a bad rule is a clear error (exit code 2)', async () => {
  const lines: string[] = [];
  const io = { log: (l: string) => lines.push(l), error: (l: string) => lines.push(l) };
  const code = await runDatasetSynthShapes({ out: path.join(tmpdir(), 'mt-never-written'), n: 2, seed: 1, holdout: '{"radii": [[0.3, 0.2]]}' }, io);
  assert.equal(code, 2);
  assert.match(lines.join('\n'), /holdout rule: radii\[0\] must be \[lo, hi\]/);
});

test('dataset synth-shapes --test_mix: the test splits follow their own question mix, training keeps --mix', async () => {
  const root = await mkdtemp(path.join(tmpdir(), 'mt-test-mix-'));
  try {
    const out = path.join(root, 'data');
    const lines: string[] = [];
    const io = { log: (l: string) => lines.push(l), error: (l: string) => lines.push(l) };
    const code = await runDatasetSynthShapes(
      { out, n: 40, nTest: 36, seed: 5, holdout: 'default', mix: 'caption=3,exists=1', testMix: 'caption=1,colour=1,shape=1,count=1,compare=1,exists=1' },
      io,
    );
    assert.equal(code, 0, lines.join('\n'));
    const meta = (await readFile(path.join(out, 'meta.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Meta);
    const types = (split: string) => {
      const n: Record<string, number> = {};
      for (const m of meta.filter((x) => x.split === split)) n[m.question_type] = (n[m.question_type] ?? 0) + 1;
      return n;
    };
    assert.deepEqual(types('train'), { caption: 30, exists: 10 });
    const even = { caption: 6, colour: 6, shape: 6, count: 6, compare: 6, exists: 6 };
    for (const split of ['test', 'test_regions', 'test_pairs']) assert.deepEqual(types(split), even, split);
    const info = JSON.parse(await readFile(path.join(out, 'info.json'), 'utf8'));
    assert.deepEqual(info.mix, { caption: 3, exists: 1 });
    assert.deepEqual(info.test_mix, { caption: 1, colour: 1, shape: 1, count: 1, compare: 1, exists: 1 });
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
