/**
 * The WGSL embedding-merge kernel in Node: tfjs-webgpu on Dawn (npm `webgpu`) with SwiftShader, checked bit for
 * bit against a plain-array merge and the reference tfjs splice, with gradients compared to the reference's.
 * Skips (saying why) where Node has no WebGPU adapter.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { startNodeWebGPU } from './helpers/node-webgpu.js';
import { tf } from '../src/tf.js';
import { buildSpliceLayout } from '../src/splice/layout.js';
import { mergeEmbeddings } from '../src/splice/splice.js';
import { configurePlatform } from '../src/platform.js';
import { EMBEDDING_MERGE_WGSL } from '../kernels/embedding-merge.wgsl.js';
import { EMBEDDING_TABLE_GRAD_WGSL } from '../kernels/embedding-table-grad.wgsl.js';
import { groupPositionsByToken } from '../kernels/embedding-table-grad.js';
import { buildRowIndex, mergeEmbeddingsWebGPU } from '../kernels/embedding-merge.js';
import { registerWebGPUKernels } from '../kernels/register.js';
import { checkForward, checkGradients, mergeCases } from './kernels-merge-cases.js';
import { skipMissingTool } from './helpers/missing-tool.js';
import { checkGeneratedWgsl } from './helpers/generated-wgsl.js';

const generated: Record<string, string> = {
  'embedding-merge.wgsl': EMBEDDING_MERGE_WGSL,
  'embedding-table-grad.wgsl': EMBEDDING_TABLE_GRAD_WGSL,
};

test('kernels/*.wgsl.ts are generated from kernels/*.wgsl', () => {
  checkGeneratedWgsl(generated);
});

test('buildRowIndex encodes ids and projected rows, groupPositionsByToken groups text positions, bad ids are named', () => {
  const layout = buildSpliceLayout(
    [{ inputIds: [5, -1, -1, 6], runs: [{ modality: 0, instance: 0, start: 1, width: 2 }] }, { inputIds: [7], runs: [] }],
    [2],
    4,
    3,
  );
  const rowIndex = buildRowIndex(layout, 8);
  assert.deepEqual(Array.from(rowIndex), [5, -1, -2, 6, 7, 3, 3, 3]);
  const { rowStart, positions } = groupPositionsByToken(rowIndex, 8);
  assert.deepEqual(Array.from(rowStart), [0, 0, 0, 0, 3, 3, 4, 5, 6]);
  assert.deepEqual(Array.from(positions), [5, 6, 7, 0, 3, 4]);
  assert.throws(() => buildRowIndex(layout, 7), /tokenIds\[4\] \(batch row 1, position 0\) = 7 is outside the embedding table's 7 rows/);
});

test('registerWebGPUKernels is idempotent and the fast path declines off webgpu', async () => {
  registerWebGPUKernels();
  registerWebGPUKernels();
  assert.ok(tf.getKernel('MultiTokenEmbeddingMerge', 'webgpu'));
  assert.ok(tf.getKernel('MultiTokenEmbeddingTableGrad', 'webgpu'));
  const layout = buildSpliceLayout([{ inputIds: [1, -1], runs: [{ modality: 0, instance: 0, start: 1, width: 1 }] }], [1]);
  const backend = tf.getBackend();
  await tf.setBackend('cpu');
  try {
    assert.equal(mergeEmbeddingsWebGPU(tf.ones([2, 3]), layout, tf.zeros([1, 3])), null);
    assert.deepEqual(mergeEmbeddings(tf.ones([2, 3]), layout, tf.zeros([1, 3])).arraySync(), [[[1, 1, 1], [0, 0, 0]]]);
  } finally {
    if (backend) await tf.setBackend(backend);
  }
});

let skip: string | false = false;
before(async () => {
  skip = await startNodeWebGPU({ tfjsBackend: true });
});

test('fused merge equals the plain merge and the reference splice bit for bit', { timeout: 60_000 }, async (t) => {
  if (skip) return skipMissingTool(t, skip);
  const cases = mergeCases();
  let flushed = 0;
  for (const c of cases) {
    const r = await checkForward(c);
    assert.equal(r.error, undefined, r.error ?? "");
    flushed += r.flushedByComposite ?? 0;
  }
  t.diagnostic(`${cases.length} layouts bit-exact vs the plain merge and the cpu reference (hidden 1, 3, 4, 8, 4095, 4096)`);
  t.diagnostic(`the webgpu composite flushed ${flushed} subnormal(s) to zero that the kernel kept`);
});

test('gradients equal the reference splice gradients', { timeout: 60_000 }, async (t) => {
  if (skip) return skipMissingTool(t, skip);
  // The 70000-row dispatch case is for the forward pass; the cpu reference's gradient would take ~40 s on it.
  const cases = mergeCases().filter((c) => c.layout.batchSize * c.layout.seqLen <= 4096);
  let exactTables = 0;
  for (const c of cases) {
    const t0 = performance.now();
    const r = await checkGradients(c);
    if (process.env.VERBOSE) t.diagnostic(`${c.name}: ${(performance.now() - t0).toFixed(0)} ms`);
    assert.equal(r.error, undefined, r.error ?? "");
    if (r.tableBitExact) exactTables++;
  }
  t.diagnostic(`${cases.length} layouts: fused d table and d projected bit-exact vs the plain float32 gradients;`);
  t.diagnostic(`vs the reference: d projected bit-exact, d table bit-exact in ${exactTables} (cpu sums in float64), else within 1e-5`);
});

test('mergeEmbeddings uses the kernel on webgpu automatically', async (t) => {
  if (skip) return skipMissingTool(t, skip);
  const layout = buildSpliceLayout([{ inputIds: [2, -1, -1, 0], runs: [{ modality: 0, instance: 0, start: 1, width: 2 }] }], [2]);
  const table = tf.tensor2d([[0, 0, 0, 0], [1, 1, 1, 1], [2, 2, 2, 2]]);
  const projected = tf.tensor2d([[5, 6, 7, 8], [9, 10, 11, 12]]);
  const profile = await tf.profile(() => mergeEmbeddings(table, layout, projected));
  const kernelRuns = profile.kernelNames.filter((k) => k === 'MultiTokenEmbeddingMerge').length;
  assert.equal(kernelRuns, 1, `kernels run: ${profile.kernelNames.join(', ')}`);
  assert.ok(!profile.kernelNames.includes('SelectV2'), 'the reference where() did not run');
  configurePlatform({ fastMerge: null });
  const ref = await tf.profile(() => mergeEmbeddings(table, layout, projected));
  registerWebGPUKernels();
  assert.ok(!ref.kernelNames.includes('MultiTokenEmbeddingMerge'));
});
