/**
 * A one-script page that runs kernel checks in headless Chromium. The script is written to a temp folder and
 * imports the repo's modules by relative path ({@link repoImport}); vite bundles it, and the bundle is served on
 * 127.0.0.1 for `readResultPage`.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';
import { serveStatic } from '../chromium.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));

/** A JSON string literal importing the repo file `p` (e.g. `src/tf.ts`) from a script in `fromDir`. */
export function repoImport(fromDir: string, p: string): string {
  return JSON.stringify(relative(fromDir, join(repo, p)).replace(/\\/g, '/'));
}

/** A built page being served. */
export interface KernelPage {
  url: string;
  close(): Promise<void>;
}

/** Builds the page whose script is `entrySource(srcDir)` and serves it. */
export async function buildKernelPage(title: string, entrySource: (srcDir: string) => string): Promise<KernelPage> {
  const dir = await mkdtemp(join(tmpdir(), 'mt-kernel-page-'));
  const src = join(dir, 'src');
  await mkdir(src);
  await writeFile(join(src, 'index.html'), `<!doctype html><meta charset="utf-8"><title>${title}</title><pre id="result"></pre><script type="module" src="./main.js"></script>`);
  await writeFile(join(src, 'main.js'), entrySource(src));
  await build({
    configFile: false,
    root: src,
    logLevel: 'error',
    // The entry lives outside the repo, so bare imports are resolved from the repo's node_modules.
    resolve: { alias: { '@tensorflow/tfjs-backend-webgpu': join(repo, 'node_modules/@tensorflow/tfjs-backend-webgpu/dist/index.js') } },
    build: { outDir: join(dir, 'dist'), emptyOutDir: true, minify: false, target: 'es2022', reportCompressedSize: false },
  });
  const server = await serveStatic(join(dir, 'dist'));
  return {
    url: server.url,
    async close() {
      await server.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
