/**
 * Fixtures for the demo-page and browser-bundle e2e tests: vite builds into temp folders, a tiny multimodal
 * model written beside them, a test image, and a console watcher.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { PNG } from 'pngjs';
import { build } from 'vite';
import { chromium, type Browser, type Page } from 'playwright-core';
import { CHROMIUM_BASE_FLAGS, CHROMIUM_PATH } from '../chromium.js';
import { tf } from '../../src/tf.js';
import { makeTinyMultimodalFiles, type TinyModality } from '../../src/tiny/tiny-multimodal.js';
import { browserLibConfig, pageConfig } from '../../vite.config.js';

/** Builds the demo page (`web/`) into `outDir`. */
export async function buildDemoPage(outDir: string): Promise<void> {
  await build({ ...pageConfig(outDir), configFile: false, logLevel: 'error' });
}

/** Builds the browser ES module (`dist/browser/` layout) into `outDir`. */
export async function buildBrowserBundle(outDir: string): Promise<void> {
  await build({ ...browserLibConfig(outDir), configFile: false, logLevel: 'error' });
}

/**
 * Writes the smallest useful multimodal checkpoint (Qwen2-style LM, hidden 64, two layers, a tiny CLIP in
 * `vision_encoder/`) to `dir`: about 600 KB, so the e2e tests spend their time in the page, not in loading.
 *
 * The default seed is one whose random weights answer the tests' questions greedily with visible characters
 * (" sp sp…", "ttt…"); most seeds answer with newlines or lone UTF-8 bytes, which stream invisibly and make
 * a blank screenshot.
 */
export async function writeTinyModel(dir: string, modalities: TinyModality[] = ['vision_clip'], seed = 2): Promise<string[]> {
  // Random weights are made with tfjs; cpu is enough and avoids the backend search (and its log lines).
  if (tf.getBackend() !== 'cpu') await tf.setBackend('cpu');
  const files = await makeTinyMultimodalFiles({ modalities, arch: 'qwen2', seed });
  for (const [name, data] of files) {
    const path = join(dir, name);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, data);
  }
  return [...files.keys()];
}

/** A small PNG (a red disc on blue) to attach as an image. */
export function testPng(width = 48, height = 40): Buffer {
  const png = new PNG({ width, height });
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4;
      const inDisc = (x - width / 2) ** 2 + (y - height / 2) ** 2 < (height / 3) ** 2;
      png.data.set(inDisc ? [220, 40, 40, 255] : [40, 80, 200, 255], i);
    }
  }
  return PNG.sync.write(png);
}

/**
 * Headless Chromium without WebGPU, with Chromium's fake camera (a moving test pattern) and microphone (a
 * beep), granted without a permission prompt: the webcam and microphone buttons can be tested end to end.
 */
export function launchWithFakeMedia(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [...CHROMIUM_BASE_FLAGS, '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream'],
  });
}

/** What a page printed: every console line, and the errors with the URL each came from. */
export interface ConsoleWatch {
  all: string[];
  errorsAt: { line: string; url: string }[];
  /** URLs that answered a HEAD request with 404. */
  missingProbes: Set<string>;
}

/** Starts recording a page's console, uncaught errors and 404 answers to HEAD requests. */
export function watchConsole(page: Page): ConsoleWatch {
  const w: ConsoleWatch = { all: [], errorsAt: [], missingProbes: new Set() };
  page.on('console', (m) => {
    const line = `${m.type()}: ${m.text()}`;
    w.all.push(line);
    if (m.type() === 'error') w.errorsAt.push({ line, url: m.location().url });
  });
  page.on('pageerror', (e) => {
    w.all.push(`pageerror: ${e.message}`);
    w.errorsAt.push({ line: `pageerror: ${e.message}`, url: '' });
  });
  page.on('response', (r) => {
    if (r.status() === 404 && r.request().method() === 'HEAD') w.missingProbes.add(r.url());
  });
  return w;
}

/**
 * Console errors, except Chromium's "Failed to load resource: 404" for HEAD requests: loading a model from a
 * URL asks whether optional files exist (`adapter_config.json`, `chat_template.jinja`, sharded indexes) with
 * HEAD, and Chromium logs every 404 as an error although the page handles it. A 404 on a GET still counts.
 */
export function consoleErrors(w: ConsoleWatch): string[] {
  return w.errorsAt
    .filter((e) => !(/Failed to load resource.*404/.test(e.line) && w.missingProbes.has(e.url)))
    .map((e) => (e.url ? `${e.line} (${e.url})` : e.line));
}

/** The last `n` console lines, for assertion messages. */
export function tail(w: ConsoleWatch, n = 15): string {
  return w.all.slice(-n).join('\n');
}
