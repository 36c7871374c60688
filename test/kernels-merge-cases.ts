/**
 * Shared checks for the embedding-merge kernel, run by test/kernels-embedding-merge.test.ts (Node + Dawn) and by
 * the page of e2e/kernels.test.ts (headless Chromium). Isomorphic: no node: imports, no node:test.
 *
 * The kernel's output is compared bit for bit (as uint32 patterns, so -0, subnormals, ±Inf and NaN count) with
 * a plain-array merge of the same layout and with the reference tfjs composite on the same backend; gradients are
 * compared with the reference's (projected rows bit for bit, the table to a float-summation tolerance, since both
 * sum with unordered atomics).
 */
import { tf } from '../src/tf.js';
import { buildSpliceLayout, type LayoutRow, type SpliceLayout } from '../src/splice/layout.js';
import { mergeEmbeddings } from '../src/splice/splice.js';
import { configurePlatform } from '../src/platform.js';
import { Rng } from '../src/util/rng.js';
import { mergeEmbeddingsWebGPU } from '../kernels/embedding-merge.js';

/** One merge problem: a layout with its table and projected rows (plain arrays, so expectations are exact). */
export interface MergeCase {
  name: string;
  layout: SpliceLayout;
  table: Float32Array; // [V, D]
  V: number;
  projected: Float32Array; // [R, D]
  D: number;
}

/** Values a copy must keep exactly, mixed into the random data. */
const SPECIALS = [-0, 1e-40, -1e-45, Infinity, -Infinity, 3.4028234663852886e38, NaN];

function fill(rng: Rng, n: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.next() < 0.05 ? SPECIALS[i % SPECIALS.length] : rng.normal();
  return a;
}

/** Rows of text and placeholder runs; `mode` forces text-only or placeholder-only rows. */
function randomRows(rng: Rng, B: number, widths: number[], V: number, mode: 'mixed' | 'text' | 'modality'): LayoutRow[] {
  return Array.from({ length: B }, () => {
    const ids: number[] = [];
    const runs: LayoutRow['runs'] = [];
    const seen = widths.map(() => 0);
    const pieces = 1 + Math.floor(rng.next() * 6);
    for (let k = 0; k < pieces; k++) {
      const modality = mode === 'modality' || (mode === 'mixed' && rng.next() < 0.5);
      if (!modality) {
        for (let i = 1 + Math.floor(rng.next() * 4); i > 0; i--) ids.push(Math.floor(rng.next() * V));
        continue;
      }
      const m = Math.floor(rng.next() * widths.length);
      // Consecutive pieces can both be runs: adjacent runs (<image><image>) come up often.
      runs.push({ modality: m, instance: seen[m]++, start: ids.length, width: widths[m] });
      for (let i = 0; i < widths[m]; i++) ids.push(-1);
    }
    return { inputIds: ids, runs };
  });
}

function makeCase(name: string, rng: Rng, layout: SpliceLayout, V: number, D: number): MergeCase {
  return { name, layout, V, D, table: fill(rng, V * D), projected: fill(rng, layout.numProjectedRows * D) };
}

/**
 * The fixed case list: random layouts (adjacent runs, padding, batch > 1) at hidden sizes 1, 3, 4, 8 and
 * 4096, text-only and modality-only batches, duplicate and unused projected rows, and one case past 65535
 * workgroups, i.e. rows (tfjs then folds the dispatch into 2-D, exercising the non-flat global index).
 */
export function mergeCases(seed = 11): MergeCase[] {
  const rng = new Rng(seed);
  const cases: MergeCase[] = [];
  const widths = [3, 2];
  for (const D of [1, 3, 4, 8]) {
    for (let trial = 0; trial < 3; trial++) {
      const B = 1 + trial;
      const rows = randomRows(rng, B, widths, 13, 'mixed');
      const T = Math.max(...rows.map((r) => r.inputIds.length)) + trial; // right padding with padId 2
      cases.push(makeCase(`mixed D=${D} B=${B} T=${T}`, rng, buildSpliceLayout(rows, widths, T, 2), 13, D));
    }
  }
  for (const D of [3, 4]) {
    cases.push(makeCase(`text only D=${D}`, rng, buildSpliceLayout(randomRows(rng, 3, widths, 9, 'text'), widths, undefined, 1), 9, D));
    cases.push(makeCase(`modality only D=${D}`, rng, buildSpliceLayout(randomRows(rng, 2, widths, 9, 'modality'), widths), 9, D));
  }
  const dup: LayoutRow = {
    inputIds: [4, -1, -1, 5, -1, -1, 6, -1, -1],
    runs: [
      { modality: 0, instance: 0, start: 1, width: 2 },
      { modality: 0, instance: 0, start: 4, width: 2 }, // same item twice: projected rows used twice
      { modality: 0, instance: 2, start: 7, width: 2 }, // instance 1 never appears: projected rows unused
    ],
  };
  cases.push(makeCase('duplicate and unused projected rows D=4', rng, buildSpliceLayout([dup], [2]), 7, 4));
  for (const D of [4096, 4095]) {
    // A larger vocabulary keeps the table gradient's atomic adds from all contending for a few rows.
    const rows = randomRows(rng, 2, [2, 3], 64, 'mixed');
    cases.push(makeCase(`hidden ${D}`, rng, buildSpliceLayout(rows, [2, 3], undefined, 0), 64, D));
  }
  // 70000 rows = 70000 workgroups > 65535: tfjs folds the dispatch into 2-D, exercising the non-flat index.
  const big: LayoutRow[] = [0, 1].map(() => ({
    inputIds: Array.from({ length: 35000 }, (_, t) => (t >= 100 && t < 400 ? -1 : t % 3)),
    runs: [{ modality: 0, instance: 0, start: 100, width: 300 }],
  }));
  cases.push(makeCase('dispatch > 65535 workgroups D=3', rng, buildSpliceLayout(big, [300]), 3, 3));
  return cases;
}

/** What every output element must be: a plain-array merge of the layout. */
export function plainMerge(c: MergeCase): Float32Array {
  const { layout, D } = c;
  const out = new Float32Array(layout.batchSize * layout.seqLen * D);
  for (let p = 0; p < layout.batchSize * layout.seqLen; p++) {
    const r = layout.sourceRows[p];
    const src = r >= 0 ? c.projected.subarray(r * D, (r + 1) * D) : c.table.subarray(layout.tokenIds[p] * D, (layout.tokenIds[p] + 1) * D);
    out.set(src, p * D);
  }
  return out;
}

/** Index of the first element whose bit pattern differs, or -1. */
export function firstBitDifference(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return i;
  return -1;
}

/** Result of {@link checkForward} / {@link checkGradients}; `error` is set on a mismatch. */
export interface CheckResult {
  name: string;
  error?: string;
  /** Gradient checks: largest |fused - reference| of the table gradient, and whether it was bit-exact too. */
  tableMaxAbsDiff?: number;
  tableBitExact?: boolean;
}

function describe(c: MergeCase, what: string, i: number, got: Float32Array, want: Float32Array): string {
  const p = Math.floor(i / c.D);
  return `${c.name}: ${what} differs at element ${i} (position ${p}, dim ${i % c.D}, sourceRow ${c.layout.sourceRows[p]}): got ${got[i]}, want ${want[i]}`;
}

/**
 * Fused kernel (webgpu) vs plain merge vs the reference composite on the cpu backend, all bit for bit; and vs
 * the reference composite on webgpu, where tfjs's own gather flushes subnormals to zero (its shader multiplies
 * each value by an in-bounds flag): those elements are counted, not failed. Leaves the backend on webgpu.
 */
export async function checkForward(c: MergeCase): Promise<CheckResult & { flushedByComposite?: number }> {
  const { layout, D } = c;
  const want = plainMerge(c);
  const reference = () =>
    tf.tidy(() => {
      const table = tf.tensor2d(c.table, [c.V, D]);
      return withoutFastPath(() => mergeEmbeddings(table, layout, tf.tensor2d(c.projected, [layout.numProjectedRows, D])));
    });
  await tf.setBackend('cpu');
  const cpuRef = reference();
  const cpuData = cpuRef.dataSync() as Float32Array;
  cpuRef.dispose();
  await tf.setBackend('webgpu');
  let i = firstBitDifference(cpuData, want);
  if (i >= 0) return { name: c.name, error: describe(c, 'cpu reference vs plain merge', i, cpuData, want) };

  const inputs = [tf.tensor2d(c.table, [c.V, D]), tf.tensor2d(c.projected, [layout.numProjectedRows, D])];
  const fused = mergeEmbeddingsWebGPU(inputs[0], layout, inputs[1]);
  tf.dispose(inputs);
  if (!fused) return { name: c.name, error: `${c.name}: the fused path declined (backend ${tf.getBackend()})` };
  const got = (await fused.data()) as Float32Array;
  fused.dispose();
  i = firstBitDifference(got, want);
  if (i >= 0) return { name: c.name, error: describe(c, 'fused vs plain merge', i, got, want) };

  const gpuRef = reference();
  const gpuData = (await gpuRef.data()) as Float32Array;
  gpuRef.dispose();
  let flushed = 0;
  for (let k = 0; k < got.length; k++) {
    if (Object.is(got[k], gpuData[k]) || (Number.isNaN(got[k]) && Number.isNaN(gpuData[k]))) continue;
    if (gpuData[k] === 0 && got[k] !== 0 && Math.abs(got[k]) < 1.1754943508222875e-38) flushed++;
    else return { name: c.name, error: describe(c, 'fused vs reference composite on webgpu', k, got, gpuData) };
  }
  return { name: c.name, flushedByComposite: flushed };
}

/** Runs `f` with `mergeEmbeddings`' fast path removed, then restores the fused one. */
function withoutFastPath<T>(f: () => T): T {
  configurePlatform({ fastMerge: null });
  try {
    return f();
  } finally {
    configurePlatform({ fastMerge: mergeEmbeddingsWebGPU });
  }
}

/**
 * Plain-array gradients of sum(merge · w): d projected[r] = w at the position(s) holding row r; d table[v] = the
 * float32 sum, in ascending position order, of w at the text positions holding token v (the kernel's order).
 */
export function plainGrads(c: MergeCase, w: Float32Array): { table: Float32Array; projected: Float32Array } {
  const { layout, D } = c;
  const table = new Float32Array(c.V * D);
  const projected = new Float32Array(layout.numProjectedRows * D);
  for (let p = 0; p < layout.batchSize * layout.seqLen; p++) {
    const r = layout.sourceRows[p];
    const [dst, row] = r >= 0 ? [projected, r] : [table, layout.tokenIds[p]];
    for (let d = 0; d < D; d++) dst[row * D + d] = Math.fround(dst[row * D + d] + w[p * D + d]);
  }
  return { table, projected };
}

/** Gradients w.r.t. [table, projected] of sum(merge · w) on the current backend; absent ones are empty. */
async function gradsOf(c: MergeCase, w: Float32Array, fused: boolean): Promise<Float32Array[]> {
  const { layout, D } = c;
  const table = tf.variable(tf.tensor2d(c.table, [c.V, D]), true);
  const projected = tf.variable(tf.tensor2d(c.projected, [layout.numProjectedRows, D]), true);
  const wt = tf.tensor3d(w, [layout.batchSize, layout.seqLen, D]);
  const merge = () => (fused ? mergeEmbeddingsWebGPU(table, layout, projected) : withoutFastPath(() => mergeEmbeddings(table, layout, projected)));
  try {
    const { grads } = tf.variableGrads(() => {
      const m = merge();
      if (!m) throw new Error(`${c.name}: the fused path declined (backend ${tf.getBackend()})`);
      return tf.sum(tf.mul(m, wt)) as tf.Scalar;
    }, [table, projected]);
    const out = await Promise.all([table, projected].map(async (v) => (grads[v.name] ? ((await grads[v.name].data()) as Float32Array) : new Float32Array(0))));
    tf.dispose(Object.values(grads));
    return out;
  } finally {
    tf.dispose([table, projected, wt]);
  }
}

/**
 * Gradients of sum(merge · w) w.r.t. table and projected. The fused kernel's (webgpu) must equal the plain-array
 * gradients bit for bit, and the reference's (tfjs composite on cpu, which sums in float64 before rounding) to
 * a float-summation tolerance, with d projected bit-exact. Cases with B·T·D <= `webgpuRefLimit` also check the
 * reference on webgpu (slow: its table gradient is atomic compare-and-swap adds). Leaves the backend on webgpu.
 */
export async function checkGradients(c: MergeCase, webgpuRefLimit = 4096): Promise<CheckResult> {
  const { layout, D } = c;
  const rng = new Rng(5);
  const w = Float32Array.from({ length: layout.batchSize * layout.seqLen * D }, () => rng.normal());
  const want = plainGrads(c, w);
  const [ft, fp] = await gradsOf(c, w, true);
  const hasTable = layout.sourceRows.some((r) => r < 0);
  if (hasTable) {
    const i = firstBitDifference(ft, want.table);
    if (i >= 0) return { name: c.name, error: `${c.name}: fused d table differs from the plain sum at ${i}: ${ft[i]} vs ${want.table[i]}` };
  }
  let i = firstBitDifference(fp, layout.numProjectedRows > 0 ? want.projected : new Float32Array(0));
  if (i >= 0) return { name: c.name, error: `${c.name}: fused d projected differs from the plain gradient at ${i}: ${fp[i]} vs ${want.projected[i]}` };

  const refs: [string, Float32Array[]][] = [];
  await tf.setBackend('cpu');
  try {
    refs.push(['cpu', await gradsOf(c, w, false)]);
  } finally {
    await tf.setBackend('webgpu');
  }
  if (layout.batchSize * layout.seqLen * D <= webgpuRefLimit) refs.push(['webgpu', await gradsOf(c, w, false)]);
  const r: CheckResult = { name: c.name, tableMaxAbsDiff: 0, tableBitExact: true };
  for (const [backend, [rt, rp]] of refs) {
    i = firstBitDifference(fp, rp);
    if (i >= 0) return { name: c.name, error: `${c.name}: d projected differs from the ${backend} reference at ${i}: ${fp[i]} vs ${rp[i]}` };
    if (ft.length !== rt.length) return { name: c.name, error: `${c.name}: d table present in ${ft.length ? 'fused' : backend} only` };
    let maxRef = 0;
    for (let k = 0; k < ft.length; k++) {
      r.tableMaxAbsDiff = Math.max(r.tableMaxAbsDiff!, Math.abs(ft[k] - rt[k]));
      maxRef = Math.max(maxRef, Math.abs(rt[k]));
    }
    r.tableBitExact &&= firstBitDifference(ft, rt) < 0;
    if (!(r.tableMaxAbsDiff! <= 1e-5 * Math.max(1, maxRef))) {
      r.error = `${c.name}: d table differs from the ${backend} reference by ${r.tableMaxAbsDiff} (max |ref| ${maxRef})`;
    }
  }
  return r;
}
