/**
 * The dequant kernels in real headless Chromium (WebGPU on SwiftShader): the same cases as
 * test/kernels-dequant.test.ts (every packed format, M on both sides of the matvec/matmul switch, sizes that
 * divide nothing), each against dequantize-then-tf.matMul on the page's webgpu backend.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { CHROMIUM_PATH, readResultPage } from './chromium.js';
import { buildKernelPage, repoImport, type KernelPage } from './helpers/kernel-page.js';
import { missingTool } from '../test/helpers/missing-tool.js';

function entrySource(fromDir: string): string {
  const at = (p: string) => repoImport(fromDir, p);
  return `
import '@tensorflow/tfjs-backend-webgpu';
import { tf } from ${at('src/tf.ts')};
import { registerWebGPUKernels } from ${at('kernels/register.ts')};
import { checkDequant, dequantCases } from ${at('test/kernels-dequant-cases.ts')};

const out = document.getElementById('result');
const r = { errors: [], passed: 0, worst: 0 };
try {
  if (!(await tf.setBackend('webgpu'))) throw new Error('tfjs webgpu backend failed to initialise');
  const adapter = await navigator.gpu.requestAdapter();
  r.adapter = [adapter.info.vendor, adapter.info.architecture].filter(Boolean).join(' ');
  registerWebGPUKernels();
  const cases = dequantCases();
  r.cases = 0;
  for (const [i, c] of cases.entries()) {
    for (const shape of c.M <= 8 ? ['lanes', 'rows'] : [undefined]) {
      const res = await checkDequant(c, 100 + i, shape);
      r.cases++;
      if (res.error) r.errors.push(res.error); else r.passed++;
      r.worst = Math.max(r.worst, res.worst);
    }
  }
} catch (e) { r.errors.push(String(e && e.stack || e)); }
out.textContent = JSON.stringify(r);
out.dataset.done = '1';
`;
}

interface PageResult {
  errors: string[];
  adapter?: string;
  cases?: number;
  passed: number;
  worst: number;
}

const skip = missingTool(existsSync(CHROMIUM_PATH) ? false : `${CHROMIUM_PATH} missing: apt-get install -y chromium`);
let page: KernelPage | undefined;

before(async () => {
  if (!skip) page = await buildKernelPage('dequant kernels', entrySource);
});

after(() => page?.close());

test('dequant kernels equal dequantize-then-tf.matMul in headless Chromium (every format, odd sizes)', { skip, timeout: 300_000 }, async (t) => {
  const r = await readResultPage<PageResult>(page!.url, { webgpu: true, timeoutMs: 280_000 });
  t.diagnostic(`adapter: ${r.adapter}; ${r.passed}/${r.cases} cases within tolerance (worst ${r.worst.toFixed(3)} of it)`);
  assert.deepEqual(r.errors, []);
  assert.match(r.adapter ?? '', /swiftshader/i);
  assert.equal(r.passed, r.cases);
});
