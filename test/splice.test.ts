import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../src/tf.js';
import { buildSpliceLayout, type LayoutRow } from '../src/splice/layout.js';
import { mergeEmbeddings, spliceEmbeddings } from '../src/splice/splice.js';
import { Rng } from '../src/util/rng.js';

await tf.setBackend('cpu');

/** Random rows: text tokens with runs of modality placeholders (adjacent runs included), some rows empty. */
function randomRows(rng: Rng, B: number, widths: number[], vocab: number): LayoutRow[] {
  const rows: LayoutRow[] = [];
  for (let b = 0; b < B; b++) {
    const ids: number[] = [];
    const runs: LayoutRow['runs'] = [];
    const seen = widths.map(() => 0);
    const kind = rng.next();
    const pieces = 1 + Math.floor(rng.next() * 6);
    for (let p = 0; p < pieces; p++) {
      const r = rng.next();
      if (kind < 0.2 || r < 0.5) {
        if (kind > 0.85) continue; // a row with only modality items
        const n = 1 + Math.floor(rng.next() * 4);
        for (let i = 0; i < n; i++) ids.push(Math.floor(rng.next() * vocab));
      } else {
        const m = Math.floor(rng.next() * widths.length);
        runs.push({ modality: m, instance: seen[m]++, start: ids.length, width: widths[m] });
        for (let i = 0; i < widths[m]; i++) ids.push(-(m + 1));
      }
    }
    if (ids.length === 0) ids.push(1);
    rows.push({ inputIds: ids, runs });
  }
  return rows;
}

/** Plain-array reference: what every position should hold. */
function reference(rows: LayoutRow[], table: number[][], projectedRows: (m: number, b: number, inst: number, o: number) => number[], T: number, padId: number) {
  const out: number[] = [];
  rows.forEach((row, b) => {
    for (let t = 0; t < T; t++) {
      const run = row.runs.find((r) => t >= r.start && t < r.start + r.width);
      if (run) out.push(...projectedRows(run.modality, b, run.instance, t - run.start));
      else out.push(...table[t < row.inputIds.length ? row.inputIds[t] : padId]);
    }
  });
  return out;
}

test('merge/splice equal a plain-array reference on random layouts', () => {
  const rng = new Rng(7);
  for (let trial = 0; trial < 40; trial++) {
    const widths = [1 + Math.floor(rng.next() * 4), 1 + Math.floor(rng.next() * 3)];
    const B = 1 + Math.floor(rng.next() * 4);
    const D = [1, 3, 4, 8][trial % 4];
    const V = 11;
    const rows = randomRows(rng, B, widths, V);
    const T = Math.max(...rows.map((r) => r.inputIds.length)) + (trial % 3); // extra right padding
    const layout = buildSpliceLayout(rows, widths, T, 0);
    const table = Array.from({ length: V }, (_, v) => Array.from({ length: D }, (_, d) => v * 100 + d));
    // Projected rows in the documented order: modality, batch row, instance, offset.
    const order: number[][] = [];
    const key = new Map<string, number>();
    for (let m = 0; m < widths.length; m++)
      for (let b = 0; b < B; b++)
        for (let i = 0; i < layout.itemCounts[m][b]; i++)
          for (let o = 0; o < widths[m]; o++) {
            key.set(`${m},${b},${i},${o}`, order.length);
            order.push(Array.from({ length: D }, (_, d) => -(1000 * (m + 1) + 100 * b + 10 * i + o) - d / 8));
          }
    assert.equal(order.length, layout.numProjectedRows);
    const projected = tf.tensor2d(order.length ? order.flat() : [], [order.length, D]);
    const want = reference(rows, table, (m, b, i, o) => order[key.get(`${m},${b},${i},${o}`)!], T, 0);
    const merged = mergeEmbeddings(tf.tensor2d(table), layout, projected);
    assert.deepEqual(Array.from(merged.dataSync()), want, `trial ${trial}`);
    const tok = tf.gather(tf.tensor2d(table), tf.tensor2d(layout.tokenIds, [B, T], 'int32'));
    assert.deepEqual(Array.from(spliceEmbeddings(tok, layout, projected).dataSync()), want);
  }
});

test('adjacent runs of the same modality are two instances', () => {
  const layout = buildSpliceLayout(
    [{ inputIds: [5, -1, -1, -1, -1, 6], runs: [{ modality: 0, instance: 0, start: 1, width: 2 }, { modality: 0, instance: 1, start: 3, width: 2 }] }],
    [2],
  );
  assert.deepEqual(Array.from(layout.sourceRows), [-1, 0, 1, 2, 3, -1]);
  assert.deepEqual(layout.itemCounts, [[2]]);
});

test('gradients reach the projected rows and not the frozen table', () => {
  const rows: LayoutRow[] = [
    { inputIds: [1, -1, -1, 2], runs: [{ modality: 0, instance: 0, start: 1, width: 2 }] },
    { inputIds: [3, 4], runs: [] },
  ];
  const layout = buildSpliceLayout(rows, [2]);
  const table = tf.variable(tf.randomNormal([5, 3], 0, 1, 'float32', 1), false);
  const projected = tf.variable(tf.randomNormal([2, 3], 0, 1, 'float32', 2), true);
  const weights = tf.randomNormal([2, 4, 3], 0, 1, 'float32', 3);
  const { grads } = tf.variableGrads(() => tf.sum(tf.mul(mergeEmbeddings(table, layout, projected), weights)) as tf.Scalar);
  assert.deepEqual(Object.keys(grads), [projected.name]);
  // d(sum(w·x))/d(projected row r) is the weight at the position that row was written to.
  const w = weights.arraySync() as number[][][];
  const g = grads[projected.name].arraySync() as number[][];
  for (let d = 0; d < 3; d++) {
    assert.ok(Math.abs(g[0][d] - w[0][1][d]) < 1e-6);
    assert.ok(Math.abs(g[1][d] - w[0][2][d]) < 1e-6);
  }
});

test('layout errors: overlapping runs, wrong width, projected row count', () => {
  assert.throws(
    () => buildSpliceLayout([{ inputIds: [-1, -1, -1], runs: [{ modality: 0, instance: 0, start: 0, width: 2 }, { modality: 0, instance: 1, start: 1, width: 2 }] }], [2]),
    /overlap/,
  );
  assert.throws(() => buildSpliceLayout([{ inputIds: [-1], runs: [{ modality: 0, instance: 0, start: 0, width: 1 }] }], [2]), /tokenWidth/);
  const layout = buildSpliceLayout([{ inputIds: [-1, -1], runs: [{ modality: 0, instance: 0, start: 0, width: 2 }] }], [2]);
  assert.throws(() => mergeEmbeddings(tf.zeros([3, 4]), layout, tf.zeros([3, 4])), /projected rows have shape \[3,4\], the layout needs \[2, 4\]/);
});
