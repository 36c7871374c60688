/**
 * Training in the tab, in headless Chromium on SwiftShader WebGPU, with the bundled demo model:
 *
 * - teal shapes, which the demo model mostly calls "Green.", are added from the file picker, by drag and drop, and
 *   a webcam photo (Chromium's fake camera) is added and removed again; each gets the answer "Blue.";
 * - projector-only training, stopped after its second step (it ends after the step in progress): the loss
 *   falls and the chat's answer about a teal picture it did not train on changes to "Blue.";
 * - after a reload the stored run (pictures, answers, checkpoint) is offered; resuming runs one more step;
 * - the downloaded .zip holds the files `multi-token train` writes, and loaded in Node on top of the base
 *   model it gives the page's answer;
 * - nothing leaves the page: every request is a GET or HEAD to the page's own origin, none with a body.
 *
 * SwiftShader runs a step of this model in 5–8 s on an idle machine: the test trains three or four steps.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { unzipSync } from 'fflate';
import { chromium, type Page } from 'playwright-core';
import { CHROMIUM_BASE_FLAGS, CHROMIUM_PATH, CHROMIUM_WEBGPU_FLAGS, serveStatic, type StaticServer } from './chromium.js';
import { buildDemoPage, consoleErrors, tail, watchConsole } from './helpers/demo-site.js';
import { ask, attach, backendOf, waitForModel, PAGE_TIMEOUT_MS } from './helpers/demo-page.js';
import { TEAL, recolouredShape } from './helpers/recoloured-shapes.js';
import { missingTool } from '../test/helpers/missing-tool.js';

const artifacts = fileURLToPath(new URL('./artifacts/', import.meta.url));
const demoDir = fileURLToPath(new URL('../models/demo/', import.meta.url));
// Skips without Chromium, except under MULTI_TOKEN_REQUIRE_ALL=1 (CI), where the launch then fails.
const skip = missingTool(existsSync(CHROMIUM_PATH) ? false : `${CHROMIUM_PATH} missing: apt-get install -y chromium`);
const QUESTION = 'What colour is this shape?';
/** The answer the panel teaches: not the one the demo model gives about teal before training. */
const TAUGHT = 'Blue.';

/** Training pictures, and a held-out one (a different kind and place) the chat is asked about. */
const train = [
  { name: 'teal-diamond.png', png: recolouredShape('diamond', TEAL, 36, 28, 14) },
  { name: 'teal-square.png', png: recolouredShape('square', TEAL, 28, 36, 15) },
  { name: 'teal-star.png', png: recolouredShape('star', TEAL, 34, 30, 18) },
  { name: 'teal-triangle.png', png: recolouredShape('triangle', TEAL, 30, 33, 16) },
];
// The held-out picture must be one whose answer training changes: the demo model calls a teal circle "Green."
// (a teal star it already calls "Blue.").
const heldOut = { name: 'teal-circle.png', png: recolouredShape('circle', TEAL, 32, 32, 17) };

let dir = '';
let server: StaticServer | undefined;

before(async () => {
  if (skip) return;
  dir = await mkdtemp(join(tmpdir(), 'mt-train-page-'));
  await buildDemoPage(join(dir, 'site'));
  await cp(demoDir, join(dir, 'site', 'models', 'demo'), { recursive: true });
  await mkdir(artifacts, { recursive: true });
  server = await serveStatic(join(dir, 'site'));
});

after(async () => {
  await server?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Drops `files` on the element as a user's drag and drop would (a DataTransfer holding File objects). */
async function dropFiles(page: Page, selector: string, files: { name: string; png: Buffer }[]): Promise<void> {
  await page.evaluate(({ selector, files }) => {
    const dt = new DataTransfer();
    for (const f of files) dt.items.add(new File([Uint8Array.from(atob(f.b64), (c) => c.charCodeAt(0))], f.name, { type: 'image/png' }));
    const target = document.querySelector(selector)!;
    for (const type of ['dragenter', 'dragover', 'drop']) target.dispatchEvent(new DragEvent(type, { dataTransfer: dt, bubbles: true, cancelable: true }));
  }, { selector, files: files.map((f) => ({ name: f.name, b64: f.png.toString('base64') })) });
}

/** Waits for the panel to finish a run; fails with its status line if it ends in an error. */
async function waitForTraining(page: Page): Promise<void> {
  // Encoding the pictures, compiling SwiftShader's pipelines and the steps: the slowest wait of the test.
  await page.waitForSelector('#train[data-state="done"], #train[data-state="error"]', { state: 'attached', timeout: 2 * PAGE_TIMEOUT_MS });
  if ((await page.getAttribute('#train', 'data-state')) === 'error') throw new Error(`training failed: ${await page.textContent('#train-status')}`);
}

async function askAbout(page: Page, picture: { name: string; png: Buffer }): Promise<string> {
  await page.click('#new-chat');
  await attach(page, picture.name, 'image/png', picture.png);
  return (await ask(page, QUESTION)).text.trim();
}

const curve = async (page: Page) => ({
  steps: JSON.parse((await page.getAttribute('#train-curve', 'data-steps')) ?? '[]') as number[],
  losses: JSON.parse((await page.getAttribute('#train-curve', 'data-losses')) ?? '[]') as number[],
});

test('train the demo model on teal shapes in the tab, resume after a reload, download and load in Node', { skip, timeout: 6 * PAGE_TIMEOUT_MS }, async (t) => {
  const browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [...CHROMIUM_BASE_FLAGS, ...CHROMIUM_WEBGPU_FLAGS, '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream'],
  });
  const t0 = Date.now();
  const since = () => `${((Date.now() - t0) / 1000).toFixed(1)} s`;
  try {
    const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1280, height: 1000 } });
    const page = await context.newPage();
    const cons = watchConsole(page);
    const requests: { url: string; method: string; body: number }[] = [];
    page.on('request', (r) => requests.push({ url: r.url(), method: r.method(), body: r.postDataBuffer()?.length ?? 0 }));

    await page.goto(server!.url + '?maxNewTokens=8');
    assert.equal(await backendOf(page), 'webgpu', tail(cons));
    // The page loads the bundled demo model by itself.
    await waitForModel(page);
    await page.waitForSelector('#train[data-ready]', { timeout: PAGE_TIMEOUT_MS });
    assert.match((await page.textContent('#train-private')) ?? '', /never leave the page: nothing is uploaded/);

    const before = await askAbout(page, heldOut);
    t.diagnostic(`${since()}: before training, "${QUESTION}" about teal → ${JSON.stringify(before)}`);
    assert.notEqual(before, TAUGHT, 'the demo model must not give the taught answer already, for this test to mean anything');

    // Pictures from the file picker, a drop, and the (fake) webcam, which is then removed again.
    await page.click('#train-summary');
    await page.fill('#train-question', QUESTION);
    await page.setInputFiles('#train-files', train.slice(0, 3).map((p) => ({ name: p.name, mimeType: 'image/png', buffer: p.png })));
    await dropFiles(page, '#train-drop', train.slice(3));
    assert.equal(await page.locator('#attachments .chip').count(), 0, 'the drop on the panel did not attach the picture to the chat');
    await page.click('#train-webcam');
    await page.click('#snap');
    await page.waitForFunction(() => document.querySelectorAll('#train-list li').length === 5);
    await page.locator('#train-list li').last().locator('button').click();
    assert.equal(await page.locator('#train-list li').count(), 4);
    for (const a of await page.locator('.train-answer').all()) await a.fill(TAUGHT);

    // Four steps asked for, stopped once the second has run: it ends after the step in progress.
    await page.fill('#train-steps', '4');
    await page.fill('#train-lr', '0.003');
    await page.click('#train-start');
    await page.waitForSelector('#train[data-step="2"]', { state: 'attached', timeout: 2 * PAGE_TIMEOUT_MS });
    await page.click('#train-stop');
    await page.waitForSelector('#train[data-state="stopped"], #train[data-state="error"], #train[data-state="done"]', { state: 'attached', timeout: PAGE_TIMEOUT_MS });
    assert.equal(await page.getAttribute('#train', 'data-state'), 'stopped', (await page.textContent('#train-status')) ?? '');
    const first = await curve(page);
    const stoppedAt = first.steps.length;
    t.diagnostic(`${since()}: stopped after ${stoppedAt} steps, losses ${first.losses.map((l) => l.toFixed(4)).join(' → ')}; ${await page.textContent('#train-status')}`);
    assert.ok(stoppedAt === 2 || stoppedAt === 3, `stopped at step ${stoppedAt}`);
    assert.deepEqual(first.steps, Array.from({ length: stoppedAt }, (_, i) => i + 1));
    assert.ok(first.losses[stoppedAt - 1] < first.losses[0], `loss falls: ${first.losses}`);
    assert.match((await page.textContent('#train-start')) ?? '', /Continue to step 4/);
    const after = await askAbout(page, heldOut);
    t.diagnostic(`${since()}: after training → ${JSON.stringify(after)}`);
    assert.equal(after, TAUGHT);
    await page.screenshot({ path: join(artifacts, 'train-panel.png'), fullPage: true });

    // A reload: the run (pictures, answers, checkpoint) is still in the browser; resume it to step 3.
    await page.reload();
    await waitForModel(page);
    await page.waitForSelector('#train[data-ready]', { timeout: PAGE_TIMEOUT_MS });
    await page.click('#train-summary');
    assert.equal(await page.isVisible('#train-stored'), true, 'a stored run is offered after the reload');
    assert.match((await page.textContent('#train-stored-text')) ?? '', new RegExp(`step ${stoppedAt} of 4`));
    assert.equal(await page.locator('#train-list li').count(), 4, 'the pictures came back from browser storage');
    assert.deepEqual(await page.locator('.train-answer').evaluateAll((els) => els.map((e) => (e as HTMLInputElement).value)), [TAUGHT, TAUGHT, TAUGHT, TAUGHT]);
    const total = stoppedAt + 1;
    await page.fill('#train-steps', String(total));
    await page.click('#train-resume');
    await waitForTraining(page);
    const second = await curve(page);
    t.diagnostic(`${since()}: resumed, losses ${second.losses.map((l) => l.toFixed(4)).join(' → ')}`);
    assert.deepEqual(second.steps, Array.from({ length: total }, (_, i) => i + 1), `the curve continues the stored run at step ${total}`);
    assert.deepEqual(second.losses.slice(0, stoppedAt), first.losses);
    assert.equal(await page.getAttribute('#train', 'data-step'), String(total));
    const resumed = await askAbout(page, heldOut);
    assert.equal(resumed, TAUGHT);

    // The download: the files `multi-token train` writes, loadable in Node on top of the base model.
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#train-download')]);
    const zip = unzipSync(new Uint8Array(await readFile((await download.path())!)));
    const out = join(dir, 'downloaded');
    const names: string[] = [];
    for (const [name, bytes] of Object.entries(zip)) {
      if (name.endsWith('/')) continue;
      const rel = name.split('/').slice(1).join('/');
      names.push(rel);
      await mkdir(dirname(join(out, rel)), { recursive: true });
      await writeFile(join(out, rel), bytes);
    }
    t.diagnostic(`${since()}: downloaded ${download.suggestedFilename()}: ${names.sort().join(', ')}`);
    for (const f of ['config.json', 'non_lora_trainables.safetensors', 'non_lora_trainables.bin', 'tokenizer.json', 'trainer_state.json', 'training_args.json', 'loss.svg', 'README.md', 'vision_clip_encoder/model.safetensors']) {
      assert.ok(names.includes(f), `${f} in the download`);
    }
    assert.ok(!names.includes('model.safetensors') && !names.includes('optimizer.safetensors'), 'no LM weights, no optimizer state');
    assert.equal(JSON.parse(await readFile(join(out, 'trainer_state.json'), 'utf8')).global_step, stoppedAt + 1);

    const { selectNodeBackend } = await import('../node/backend.js');
    const { loadLMM } = await import('../src/lmm/load.js');
    const { generateBatch } = await import('../src/lmm/generate.js');
    const { openSource } = await import('../node/folder-source.js');
    await selectNodeBackend({ force: 'wasm', quiet: true });
    const lmm = await loadLMM(out, { base: demoDir, open: openSource });
    const [inNode] = await generateBatch(lmm, [{ id: 'n', messages: [{ role: 'user', content: `<image>\n${QUESTION}` }], images: [new Uint8Array(heldOut.png)] }], { maxNewTokens: 8, temperature: 0 });
    lmm.dispose();
    t.diagnostic(`${since()}: in Node → ${JSON.stringify(inNode.text)}`);
    assert.equal(inNode.text.trim(), resumed);

    // Nothing left the page: only GET/HEAD requests for the page and the model, to its own origin, no bodies.
    const origin = new URL(server!.url).origin;
    const foreign = requests.filter((r) => !r.url.startsWith(origin) && !r.url.startsWith('blob:') && !r.url.startsWith('data:'));
    assert.deepEqual(foreign, [], 'requests to other origins');
    const withBody = requests.filter((r) => !['GET', 'HEAD'].includes(r.method) || r.body > 0);
    assert.deepEqual(withBody, [], 'requests that send anything');
    t.diagnostic(`${requests.length} requests, all GET/HEAD to ${origin}, none with a body`);
    assert.deepEqual(consoleErrors(cons), [], 'no console errors');
  } catch (e) {
    for (const p of browser.contexts().flatMap((c) => c.pages())) await p.screenshot({ path: join(artifacts, 'train-panel-failure.png'), fullPage: true }).catch(() => {});
    throw e;
  } finally {
    await browser.close();
  }
});
