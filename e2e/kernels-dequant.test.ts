/**
 * The dequant kernels in real headless Chromium (WebGPU on SwiftShader): the same cases as
 * test/kernels-dequant.test.ts (every packed format, M on both sides of the matvec/matmul switch, sizes that
 * divide nothing), each against dequantize-then-tf.matMul on the page's webgpu backend.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';
import { CHROMIUM_PATH, readResultPage, serveStatic, type StaticServer } from './chromium.js';

const repo = fileURLToPath(new URL('..', import.meta.url));

function entrySource(fromDir: string): string {
  const at = (p: string) => JSON.stringify(relative(fromDir, join(repo, p)).replace(/\\/g, '/'));
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

const skip = existsSync(CHROMIUM_PATH) ? false : `${CHROMIUM_PATH} missing: apt-get install -y chromium`;
let dir = '';
let server: StaticServer | undefined;

before(async () => {
  if (skip) {
    if (process.env.MULTI_TOKEN_REQUIRE_ALL === '1') throw new Error(skip);
    return;
  }
  dir = await mkdtemp(join(tmpdir(), 'mt-dequant-page-'));
  const src = join(dir, 'src');
  await mkdir(src);
  await writeFile(join(src, 'index.html'), '<!doctype html><meta charset="utf-8"><title>dequant kernels</title><pre id="result"></pre><script type="module" src="./main.js"></script>');
  await writeFile(join(src, 'main.js'), entrySource(src));
  await build({
    configFile: false,
    root: src,
    logLevel: 'error',
    resolve: { alias: { '@tensorflow/tfjs-backend-webgpu': join(repo, 'node_modules/@tensorflow/tfjs-backend-webgpu/dist/index.js') } },
    build: { outDir: join(dir, 'dist'), emptyOutDir: true, minify: false, target: 'es2022', reportCompressedSize: false },
  });
  server = await serveStatic(join(dir, 'dist'));
});

after(async () => {
  await server?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('dequant kernels equal dequantize-then-tf.matMul in headless Chromium (every format, odd sizes)', { skip, timeout: 300_000 }, async (t) => {
  const r = await readResultPage<PageResult>(server!.url, { webgpu: true, timeoutMs: 280_000 });
  t.diagnostic(`adapter: ${r.adapter}; ${r.passed}/${r.cases} cases within tolerance (worst ${r.worst.toFixed(3)} of it)`);
  assert.deepEqual(r.errors, []);
  assert.match(r.adapter ?? '', /swiftshader/i);
  assert.equal(r.passed, r.cases);
});
