/**
 * The demo page, built with vite and served on 127.0.0.1, in headless Chromium:
 *
 * - with SwiftShader WebGPU: the backend reads `webgpu`, the page loads the bundled demo model (the repository's
 *   real one, served at `models/demo/`) by itself, it answers a question about `examples/red-circle.png`
 *   correctly with text that grows while it streams, the example strip's two- and three-shape pictures attach
 *   with their questions and are answered rightly, the console stays clean, and a reload loads the model again by
 *   itself, from the browser cache, without one request for it;
 * - without WebGPU, on a phone-sized screen: the page falls back to wasm and says so, loads a model (vision +
 *   audio + documents) from a picked folder, refuses a file no modality reads, names the bad attachment when
 *   decoding fails, takes a webcam snapshot and a microphone recording (Chromium's fake devices), answers
 *   about all three kinds at once, and after a reload reopens the picked folder from the browser cache.
 *
 * Screenshots go to e2e/artifacts/ (git-ignored).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CHROMIUM_PATH, launchChromium, serveStatic, type StaticServer } from './chromium.js';
import { buildDemoPage, consoleErrors, launchWithFakeMedia, tail, watchConsole, writeTinyModel } from './helpers/demo-site.js';
import { ask, attach, backendOf, growthSteps, waitForModel, PAGE_TIMEOUT_MS } from './helpers/demo-page.js';
import { missingTool } from '../test/helpers/missing-tool.js';

const artifacts = fileURLToPath(new URL('./artifacts/', import.meta.url));
// Skips without Chromium, except under MULTI_TOKEN_REQUIRE_ALL=1 (CI), where the launch then fails.
const skip = missingTool(existsSync(CHROMIUM_PATH) ? false : `${CHROMIUM_PATH} missing: apt-get install -y chromium`);
/**
 * Few tokens, greedy: enough to see streaming, little SwiftShader time, and the same text every run. This test
 * picks its own model, so the page must not load the demo model by itself.
 */
const QUERY = '?maxNewTokens=8&temperature=0&autoload=0';

let dir = '';
let server: StaticServer | undefined;

before(async () => {
  if (skip) return;
  dir = await mkdtemp(join(tmpdir(), 'mt-demo-page-'));
  await buildDemoPage(join(dir, 'site'));
  await cp(fileURLToPath(new URL('../models/demo/', import.meta.url)), join(dir, 'site', 'models', 'demo'), { recursive: true });
  // Seed 3 answers the phone test's question with visible characters (see writeTinyModel).
  await writeTinyModel(join(dir, 'picked', 'tiny-multi'), ['vision_clip', 'audio_whisper', 'document_gte'], 3);
  await mkdir(artifacts, { recursive: true });
  server = await serveStatic(join(dir, 'site'));
});

after(async () => {
  await server?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('WebGPU: the page loads the demo model by itself, it answers about one and several shapes, streaming; a reload loads it from the cache', { skip, timeout: 2 * PAGE_TIMEOUT_MS }, async (t) => {
  const browser = await launchChromium({ webgpu: true });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    const cons = watchConsole(page);
    // No temperature preset: loading the bundled demo model must switch the page to greedy decoding itself.
    // Enough tokens for a two-shape caption.
    let t0 = Date.now();
    await page.goto(server!.url + '?maxNewTokens=14');
    assert.equal(await backendOf(page), 'webgpu', tail(cons));
    // Nothing clicked: the page opens ready.
    await waitForModel(page);
    t.diagnostic(`first load: ${Date.now() - t0} ms; ${await page.textContent('#progress-label')}`);
    assert.equal(await page.getAttribute('#cache-state', 'data-cache'), 'stored');
    assert.equal(await page.isVisible('#webcam-btn'), true, 'a vision model offers the webcam (getUserMedia exists here)');
    assert.equal(await page.isVisible('#mic-btn'), false, 'no microphone for a vision-only model');

    await attach(page, 'red-circle.png', 'image/png', await readFile(new URL('../examples/red-circle.png', import.meta.url)));
    t0 = Date.now();
    const a = await ask(page, 'Describe the picture.');
    t.diagnostic(`answer in ${Date.now() - t0} ms: ${JSON.stringify(a.text)} · ${a.meta} · lengths ${a.lengths.join(',')}`);
    assert.equal(a.text.trim(), 'A circle in red.', 'the demo model answers as it does in Node');
    assert.ok(growthSteps(a.lengths).length >= 2, `the text grew while streaming (lengths seen: ${a.lengths.join(',')})`);
    assert.match(a.meta, /TTFT \d+(\.\d)? m?s · \d+\.\d tok\/s · \d+ tokens/);
    assert.match((await page.textContent('#stats')) ?? '', /tok\/s/);
    t.diagnostic(`optional files probed and absent: ${[...cons.missingProbes].map((u) => u.split('/models/demo/')[1]).join(', ')}`);
    assert.equal(await page.locator('.msg-user .msg-image').count(), 1, 'the user turn shows the image');
    await page.screenshot({ path: join(artifacts, 'demo-webgpu.png') });
    assert.deepEqual(consoleErrors(cons), [], 'no console errors');

    // The examples strip (bundled demo only): one click attaches a drawn picture and fills in its question.
    assert.deepEqual(await page.locator('#examples .example').evaluateAll((bs) => bs.map((b) => (b as HTMLElement).dataset.example)),
      ['red-circle', 'blue-square', 'green-triangle', 'two-shapes', 'three-shapes']);
    await page.click('#examples [data-example="blue-square"]');
    assert.equal(await page.inputValue('#prompt'), 'What colour is this shape?');
    assert.deepEqual(await page.locator('#attachments .chip-name').allTextContents(), ['blue-square.png']);
    assert.equal(await page.inputValue('#temperature'), '0', 'greedy for the demo model');
    const b = await ask(page, 'What colour is this shape?');
    t.diagnostic(`example answer: ${JSON.stringify(b.text)} · ${b.meta}`);
    assert.equal(b.text.trim(), 'Blue.');
    // Several shapes in one picture: one click attaches the picture and fills in its question, and the model
    // answers it rightly in the page (issue #17).
    await page.click('#examples [data-example="two-shapes"]');
    assert.equal(await page.inputValue('#prompt'), 'Describe the picture.');
    assert.deepEqual(await page.locator('#attachments .chip-name').allTextContents(), ['two-shapes.png']);
    const c = await ask(page, await page.inputValue('#prompt'));
    t.diagnostic(`two shapes: ${JSON.stringify(c.text)} · ${c.meta}`);
    assert.equal(c.text.trim(), 'A circle in purple and a square in orange.');
    await page.click('#examples [data-example="three-shapes"]');
    assert.equal(await page.inputValue('#prompt'), 'How many shapes do you see?');
    assert.deepEqual(await page.locator('#attachments .chip-name').allTextContents(), ['three-shapes.png']);
    const d = await ask(page, await page.inputValue('#prompt'));
    t.diagnostic(`three shapes: ${JSON.stringify(d.text)} · ${d.meta}`);
    assert.equal(d.text.trim(), 'Three.');
    await page.screenshot({ path: join(artifacts, 'demo-webgpu-example.png') });

    // A reload must not fetch the model again: every file comes from Cache Storage.
    const modelRequests: string[] = [];
    page.on('request', (r) => {
      if (r.url().includes('/models/demo/')) modelRequests.push(r.url());
    });
    t0 = Date.now();
    await page.reload();
    assert.equal(await backendOf(page), 'webgpu');
    await waitForModel(page);
    t.diagnostic(`cached load: ${Date.now() - t0} ms; ${await page.textContent('#progress-label')}`);
    assert.equal(await page.getAttribute('#cache-state', 'data-cache'), 'hit');
    assert.match((await page.textContent('#progress-label')) ?? '', /from the browser cache/);
    assert.deepEqual(modelRequests, [], 'no request for model files after the reload');
    assert.equal(await page.locator('#cached-select option').count(), 1, 'the cached model is listed');
    assert.deepEqual(consoleErrors(cons), [], 'no console errors');
  } finally {
    await browser.close();
  }
});

test('no WebGPU, phone screen: wasm fallback, a picked folder, webcam + microphone + document, a bad file named', { skip, timeout: 2 * PAGE_TIMEOUT_MS }, async (t) => {
  const browser = await launchWithFakeMedia();
  try {
    const page = await browser.newPage({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
    const cons = watchConsole(page);
    await page.goto(server!.url + QUERY);
    assert.equal(await backendOf(page), 'wasm', tail(cons));
    assert.match((await page.textContent('.notice-warn[data-id="backend"]')) ?? '', /No WebGPU.*WebAssembly.*Why: requestAdapter/s);
    await page.screenshot({ path: join(artifacts, 'demo-phone-start.png') });

    await page.setInputFiles('#folder-input', join(dir, 'picked', 'tiny-multi'));
    await waitForModel(page);
    assert.match((await page.textContent('#model-name')) ?? '', /picked folder "tiny-multi"/);
    assert.equal(await page.isVisible('#examples'), false, 'the shapes examples are for the bundled demo model only');
    assert.equal(await page.isVisible('#mic-btn'), true, 'an audio model offers the microphone');

    // A PDF: no modality of this model reads it, so it is refused up front.
    await attach(page, 'report.pdf', 'application/pdf', Buffer.from('%PDF-1.4'));
    assert.match((await page.textContent('.notice-warn[data-id="attach"]')) ?? '', /Not attached: "report\.pdf".*reads images, audio and text documents/);
    assert.equal(await page.locator('#attachments .chip').count(), 0);

    // A "PNG" that is not one: the library's error names the item, the page adds the file name.
    await attach(page, 'broken.png', 'image/png', Buffer.from('definitely not a PNG'));
    await assert.rejects(ask(page, 'What is this?'), /images\[0\].*broken\.png/s);
    t.diagnostic(`bad file: ${await page.textContent('.notice-error[data-id="send"] .notice-text')}`);
    await page.screenshot({ path: join(artifacts, 'demo-phone-error.png') });
    assert.equal(await page.locator('#attachments .chip').count(), 1, 'the draft (with the bad file) is given back');
    assert.equal(await page.locator('.msg-user').count(), 0, 'the failed turn is taken back');
    await page.click('#attachments .chip-remove');

    // Chromium's fake camera and microphone: a snapshot becomes a PNG, a recording a WAV.
    await page.click('#webcam-btn');
    await page.waitForFunction(() => (document.getElementById('webcam-video') as HTMLVideoElement).readyState >= 2);
    await page.click('#snap');
    await page.locator('#attachments .chip-image').waitFor();
    await page.click('#mic-btn');
    await page.waitForTimeout(700);
    await page.click('#mic-btn');
    await page.locator('#attachments .chip-audio').waitFor();
    await attach(page, 'notes.txt', 'text/plain', Buffer.from('A short note about shapes.'));
    const names = await page.locator('#attachments .chip-name').allTextContents();
    assert.match(names.join(' '), /^webcam-\d+\.png recording-\d+\.wav notes\.txt$/);

    const t0 = Date.now();
    const a = await ask(page, 'Describe everything.');
    t.diagnostic(`wasm answer (image + audio + document) in ${Date.now() - t0} ms: ${JSON.stringify(a.text)} · ${a.meta}`);
    assert.ok(a.text.length > 0);
    assert.ok(growthSteps(a.lengths).length >= 2, `streamed (lengths ${a.lengths.join(',')})`);
    assert.equal(await page.locator('.msg-user .msg-image, .msg-user .msg-audio, .msg-user .msg-file').count(), 3);
    await page.screenshot({ path: join(artifacts, 'demo-phone-wasm.png') });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `no horizontal scrolling on a phone (content is ${overflow}px wider)`);

    // After a reload the picked folder reopens from the browser cache, without picking it again.
    await page.reload();
    await page.locator('#cached-models:not([hidden])').waitFor();
    assert.match((await page.textContent('#cached-select')) ?? '', /picked folder "tiny-multi"/);
    await page.click('#load-cached');
    await waitForModel(page);
    assert.equal(await page.getAttribute('#cache-state', 'data-cache'), 'hit');
    assert.deepEqual(consoleErrors(cons), [], 'no console errors');
  } finally {
    await browser.close();
  }
});
