/**
 * The WGSL embedding-merge kernel in real headless Chromium (WebGPU on SwiftShader): the same bit-exactness and
 * gradient checks as test/kernels-embedding-merge.test.ts, run on a vite-built page, plus the small bench shape.
 *
 * The page's entry is written to a temp folder and imports the repo's modules by relative path; vite bundles
 * it with only the webgpu and cpu backends in use (no wasm files to copy).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { CHROMIUM_PATH, readResultPage } from './chromium.js';
import { buildKernelPage, repoImport, type KernelPage } from './helpers/kernel-page.js';
import { missingTool } from '../test/helpers/missing-tool.js';


/** The page: runs every case, then the small bench shape; reports JSON in #result and sets data-done. */
function entrySource(fromDir: string): string {
  const at = (p: string) => repoImport(fromDir, p);
  return `
import '@tensorflow/tfjs-backend-webgpu';
import { tf } from ${at('src/tf.ts')};
import { registerWebGPUKernels } from ${at('kernels/register.ts')};
import { checkForward, checkGradients, mergeCases } from ${at('test/kernels-merge-cases.ts')};
import { benchSplice, SHAPES } from ${at('bench/splice.ts')};

const out = document.getElementById('result');
const report = (r) => { out.textContent = JSON.stringify(r); out.dataset.done = '1'; };
const r = { errors: [] };
try {
  if (!(await tf.setBackend('webgpu'))) throw new Error('tfjs webgpu backend failed to initialise');
  const adapter = await navigator.gpu.requestAdapter();
  r.adapter = [adapter.info.vendor, adapter.info.architecture].filter(Boolean).join(' ');
  registerWebGPUKernels();
  const cases = mergeCases();
  r.forward = 0; r.flushedByComposite = 0;
  for (const c of cases) {
    const f = await checkForward(c);
    if (f.error) r.errors.push(f.error); else r.forward++;
    r.flushedByComposite += f.flushedByComposite ?? 0;
  }
  r.gradients = 0; r.tableBitExactVsReference = 0;
  for (const c of cases.filter((c) => c.layout.batchSize * c.layout.seqLen <= 4096)) {
    const g = await checkGradients(c);
    if (g.error) r.errors.push(g.error); else r.gradients++;
    if (g.tableBitExact) r.tableBitExactVsReference++;
  }
  r.cases = cases.length;
  // Forward only: the composite's training steps take tens of seconds on SwiftShader.
  r.bench = await benchSplice([{ ...SHAPES.small, reps: 15 }], 0);
} catch (e) { r.errors.push(String(e && e.stack || e)); }
report(r);
`;
}

interface PageResult {
  errors: string[];
  adapter?: string;
  cases?: number;
  forward?: number;
  flushedByComposite?: number;
  gradients?: number;
  tableBitExactVsReference?: number;
  bench?: unknown[];
}

// Skips without Chromium, except under MULTI_TOKEN_REQUIRE_ALL=1 (CI), where the launch then fails.
const skip = missingTool(existsSync(CHROMIUM_PATH) ? false : `${CHROMIUM_PATH} missing: apt-get install -y chromium`);
let page: KernelPage | undefined;

before(async () => {
  if (!skip) page = await buildKernelPage('kernels', entrySource);
});

after(() => page?.close());

test('the merge kernel is bit-exact with the reference in headless Chromium, gradients too', { skip, timeout: 120_000 }, async (t) => {
  const r = await readResultPage<PageResult>(page!.url, { webgpu: true, timeoutMs: 100_000 });
  t.diagnostic(`adapter: ${r.adapter}; ${r.forward}/${r.cases} layouts bit-exact; ${r.gradients} gradient checks passed`);
  t.diagnostic(`composite flushed ${r.flushedByComposite} subnormals; d table bit-exact vs reference in ${r.tableBitExactVsReference}`);
  t.diagnostic(`bench (Chromium, SwiftShader): ${JSON.stringify(r.bench)}`);
  assert.deepEqual(r.errors, []);
  assert.match(r.adapter ?? '', /swiftshader/i);
  assert.equal(r.forward, r.cases);
  assert.ok((r.gradients ?? 0) >= 15, `only ${r.gradients} gradient checks ran`);
});
