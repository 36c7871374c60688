/**
 * The browser ES module (`dist/browser/multi-token.js`) used the way docs/web.md shows: a plain page with a
 * `<script type="module">` importing it (examples/browser/index.html, copied as is), no bundler, no import map.
 * The served folder mirrors the repository (`dist/browser/`, `examples/browser/`, `models/demo/`), so the
 * example's relative paths are the ones a user of the repo gets.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { copyFile, cp, mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CHROMIUM_PATH, launchChromium, serveStatic, type StaticServer } from './chromium.js';
import { buildBrowserBundle, consoleErrors, tail, watchConsole } from './helpers/demo-site.js';
import { PAGE_TIMEOUT_MS } from './helpers/demo-page.js';
import { missingTool } from '../test/helpers/missing-tool.js';

const example = fileURLToPath(new URL('../examples/browser/index.html', import.meta.url));
// Skips without Chromium, except under MULTI_TOKEN_REQUIRE_ALL=1 (CI), where the launch then fails.
const skip = missingTool(existsSync(CHROMIUM_PATH) ? false : `${CHROMIUM_PATH} missing: apt-get install -y chromium`);

let dir = '';
let server: StaticServer | undefined;

before(async () => {
  if (skip) return;
  dir = await mkdtemp(join(tmpdir(), 'mt-esm-browser-'));
  await buildBrowserBundle(join(dir, 'dist', 'browser'));
  await mkdir(join(dir, 'examples', 'browser'), { recursive: true });
  await copyFile(example, join(dir, 'examples', 'browser', 'index.html'));
  await cp(fileURLToPath(new URL('../models/demo/', import.meta.url)), join(dir, 'models', 'demo'), { recursive: true });
  server = await serveStatic(dir);
});

after(async () => {
  await server?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('the bundle ships the tfjs wasm binaries and onnxruntime-web\'s CPU runtime only', { skip }, async () => {
  const assets = await readdir(join(dir, 'dist', 'browser', 'assets'));
  for (const name of ['tfjs-backend-wasm', 'tfjs-backend-wasm-simd', 'tfjs-backend-wasm-threaded-simd', 'ort-wasm-simd-threaded']) {
    assert.ok(assets.some((a) => a.startsWith(`${name}-`) && a.endsWith('.wasm')), `${name}.wasm in ${assets.join(', ')}`);
  }
  // The WebGPU builds of onnxruntime (jsep, asyncify: ~27 MB each) would only serve ONNX encoders.
  assert.deepEqual(assets.filter((a) => /^ort-wasm-simd-threaded\.(jsep|asyncify|jspi)/.test(a)), []);
});

test('examples/browser/index.html answers about an image on WebGPU through the bundle', { skip, timeout: PAGE_TIMEOUT_MS }, async (t) => {
  const browser = await launchChromium({ webgpu: true });
  try {
    const page = await browser.newPage();
    const cons = watchConsole(page);
    await page.goto(`${server!.url}examples/browser/?tokens=8`);
    await Promise.race([
      page.waitForSelector('body[data-answers="1"]', { timeout: PAGE_TIMEOUT_MS }),
      page.waitForFunction(() => document.getElementById('out')?.textContent?.includes('error:'), null, { timeout: PAGE_TIMEOUT_MS }),
    ]);
    const out = (await page.textContent('#out')) ?? '';
    t.diagnostic(JSON.stringify(out));
    assert.doesNotMatch(out, /error:/, tail(cons));
    assert.match(out, /^backend: webgpu/);
    assert.match(out, /\n> A circle in red\.\n$/, 'the demo model describes the page\'s picture');

    // The module's exports, as a page sees them.
    const names = await page.evaluate(async (url) => Object.keys((await import(url)) as object), '/dist/browser/multi-token.js');
    for (const n of ['loadLMM', 'streamGenerate', 'generateBatch', 'initBrowserBackend', 'PickedFolderSource', 'CachedSource', 'tf']) {
      assert.ok(names.includes(n), `exports ${n}`);
    }
    assert.deepEqual(consoleErrors(cons), [], 'no console errors');
  } finally {
    await browser.close();
  }
});
