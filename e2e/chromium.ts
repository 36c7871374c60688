/**
 * Headless Chromium for e2e tests, and a static file server for the pages they open.
 *
 * Uses Debian's `chromium` (apt) through playwright-core, never `npx playwright install` (it downloads a browser,
 * which fails here). WebGPU without a GPU comes from SwiftShader; WebGPU also needs a secure context, so pages
 * are served from 127.0.0.1 (about:blank has no `navigator.gpu`).
 */
import { createServer } from 'node:http';
import { createReadStream, existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { extname, join, resolve, sep } from 'node:path';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser } from 'playwright-core';

/** Where Debian's `chromium` package installs the browser. */
export const CHROMIUM_PATH = '/usr/bin/chromium';

/** Flags every launch gets (see "What runs where" in DESIGN.md). */
export const CHROMIUM_BASE_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
] as const;

/** Added with `webgpu: true`: WebGPU on the SwiftShader (CPU) adapter. */
export const CHROMIUM_WEBGPU_FLAGS = ['--enable-unsafe-webgpu', '--use-webgpu-adapter=swiftshader'] as const;

/** Options for {@link launchChromium}. */
export interface LaunchOptions {
  /** Enable WebGPU on SwiftShader (default false: the browser's defaults, which give no adapter without a GPU). */
  webgpu?: boolean;
}

/**
 * Launches headless Debian Chromium with the project's flags. Playwright's `launch` gives each browser a fresh
 * temporary `--user-data-dir` and deletes it on close (it refuses one passed in `args`), which is what we want.
 *
 * @throws Error naming the fix when /usr/bin/chromium is missing.
 */
export async function launchChromium(opts: LaunchOptions = {}): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`${CHROMIUM_PATH} is missing: apt-get install -y chromium (Debian's package; do not use npx playwright install)`);
  }
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [...CHROMIUM_BASE_FLAGS, ...(opts.webgpu ? CHROMIUM_WEBGPU_FLAGS : [])],
  });
}

/**
 * Opens `url` in a fresh headless Chromium and returns the JSON the page writes into `#result` once it sets
 * `data-done` there (the convention of the tests' self-checking pages). Fails with the page's last console lines
 * when it never reports.
 */
export async function readResultPage<T>(url: string, opts: LaunchOptions & { timeoutMs: number }): Promise<T> {
  const browser = await launchChromium(opts);
  try {
    const page = await browser.newPage();
    const logs: string[] = [];
    page.on('console', (m) => logs.push(`${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => logs.push(`pageerror: ${e.message}`));
    await page.goto(url);
    try {
      await page.waitForSelector('#result[data-done]', { timeout: opts.timeoutMs });
    } catch (err) {
      throw new Error(`page never reported (console: ${logs.slice(-10).join(' | ') || 'empty'}): ${String(err)}`);
    }
    return JSON.parse((await page.textContent('#result')) ?? '{}') as T;
  } finally {
    await browser.close();
  }
}

/** MIME types the demo page and tests serve; anything else is `application/octet-stream`. */
const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm',
  '.json': 'application/json; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.png': 'image/png',
  '.safetensors': 'application/octet-stream',
  '.wgsl': 'text/plain; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
};

/** A running {@link serveStatic} server. */
export interface StaticServer {
  /** Base URL, e.g. `http://127.0.0.1:40123/` (ends in `/`). */
  url: string;
  close(): Promise<void>;
}

/**
 * Serves `dir` on 127.0.0.1 at a free port. Sends COOP/COEP headers so pages are cross-origin isolated
 * (SharedArrayBuffer, threaded wasm). `/` and folders serve their `index.html`; paths escaping `dir` get 404.
 * Files are streamed, and byte ranges honoured.
 */
export async function serveStatic(dir: string): Promise<StaticServer> {
  const root = resolve(dir);
  const server = createServer((req, res) => {
    void (async () => {
      const headers = {
        'Cross-Origin-Opener-Policy': 'same-origin',
        'Cross-Origin-Embedder-Policy': 'require-corp',
        'Cross-Origin-Resource-Policy': 'same-origin',
        'Cache-Control': 'no-store',
      };
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { ...headers, Allow: 'GET, HEAD' }).end();
        return;
      }
      let path: string;
      try {
        path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
      } catch {
        res.writeHead(400, headers).end('bad path');
        return;
      }
      let file = resolve(join(root, path));
      if (file !== root && !file.startsWith(root + sep)) {
        res.writeHead(404, headers).end('not found');
        return;
      }
      try {
        let info = await stat(file);
        if (info.isDirectory()) {
          file = join(file, 'index.html');
          info = await stat(file);
        }
        // Streamed from disk, with byte ranges (`Range: bytes=a-b`): big weight files load by range request.
        const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
        const start = range ? Number(range[1]) : 0;
        const end = range && range[2] ? Math.min(Number(range[2]), info.size - 1) : info.size - 1;
        if (range && start >= info.size) {
          res.writeHead(416, { ...headers, 'Content-Range': `bytes */${info.size}` }).end();
          return;
        }
        res.writeHead(range ? 206 : 200, {
          ...headers,
          'Content-Type': MIME[extname(file).toLowerCase()] ?? 'application/octet-stream',
          'Content-Length': end - start + 1,
          'Accept-Ranges': 'bytes',
          ...(range ? { 'Content-Range': `bytes ${start}-${end}/${info.size}` } : {}),
        });
        if (req.method === 'HEAD' || info.size === 0) res.end();
        else createReadStream(file, { start, end }).pipe(res);
      } catch {
        res.writeHead(404, { ...headers, 'Content-Type': 'text/plain' }).end(`not found: ${path}`);
      }
    })();
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', ok);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () =>
      new Promise<void>((ok, fail) => {
        server.closeAllConnections();
        server.close((err) => (err ? fail(err) : ok()));
      }),
  };
}
