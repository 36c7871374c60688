/**
 * Two browser builds from one `vite build`:
 *
 * 1. the demo page: `web/index.html` → `web/dist/` (relative URLs, so it can be served from any folder);
 * 2. the ES module for plain `<script type="module">` pages: `web/lib/browser-entry.ts` →
 *    `dist/browser/multi-token.js`, with its lazily loaded chunks and the tfjs wasm binaries beside it.
 *
 * `vite` (dev server) serves the page from `web/`. Tests build either one into a temp folder through
 * {@link pageConfig} / {@link browserLibConfig}.
 */
import { createReadStream, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { resolve, sep } from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { build, defaultClientConditions, defineConfig, type Plugin, type ResolveOptions, type UserConfig } from 'vite';

const repo = fileURLToPath(new URL('.', import.meta.url));

/**
 * tfjs (~1.5 MB minified) and transformers.js are single modules that cannot be split further; warning about
 * them on every build would only hide warnings that matter.
 */
const CHUNK_WARNING_KB = 3000;

/**
 * How both builds resolve onnxruntime-web (transformers.js runs small ONNX graphs with it, e.g. Whisper's
 * log-mel, and ONNX-encoder modalities run on it):
 *
 * - the `onnxruntime-web-use-extern-wasm` condition picks ORT's builds that fetch their wasm at run time rather
 *   than the `*.bundle.min.mjs` ones, which make vite emit two ~27 MB wasm files into every build;
 * - every import of it (transformers.js imports `onnxruntime-web/webgpu`, the library `onnxruntime-web`)
 *   resolves to the CPU-only `onnxruntime-web/wasm`: one shared instance, 50 KB of JS and a 14 MB binary
 *   (web/src/ort-wasm.ts ships it), instead of a 370 KB runtime plus a 27 MB WebGPU binary. The models
 *   themselves run on tfjs, so ORT's WebGPU provider would only speed up ONNX encoders.
 */
const resolveOptions: ResolveOptions & { alias: { find: RegExp; replacement: string }[] } = {
  conditions: ['onnxruntime-web-use-extern-wasm', ...defaultClientConditions],
  alias: [{ find: /^onnxruntime-web(\/webgpu)?$/, replacement: 'onnxruntime-web/wasm' }],
};

/**
 * Lets `vite` (dev) and `vite preview` serve the repository's `models/` folder at `/models/`, so the page's
 * "Bundled demo model" button (`models/demo/`) works without copying the model into `web/`. Only files under
 * `models/` are served; `..` cannot climb out.
 */
function serveRepoModels(): Plugin {
  const root = resolve(repo, 'models');
  const handler = (req: IncomingMessage, res: ServerResponse, next: () => void) => {
    const path = decodeURIComponent((req.url ?? '').split('?')[0] ?? '');
    if (!path.startsWith('/models/')) return next();
    const file = resolve(root, '.' + path.slice('/models'.length));
    let size = -1;
    try {
      if (file.startsWith(root + sep)) size = statSync(file).isFile() ? statSync(file).size : -1;
    } catch {
      size = -1;
    }
    if (size < 0) {
      res.statusCode = 404;
      res.end('not found');
      return;
    }
    res.setHeader('Content-Length', size);
    res.setHeader('Content-Type', 'application/octet-stream');
    if (req.method === 'HEAD') res.end();
    else createReadStream(file).pipe(res);
  };
  return {
    name: 'multi-token:serve-repo-models',
    configureServer: (server) => void server.middlewares.use(handler),
    configurePreviewServer: (server) => void server.middlewares.use(handler),
  };
}

/** Build options both outputs share: a self-contained folder of ES2022 with source maps. */
function commonBuild(outDir: string) {
  return { outDir, emptyOutDir: true, target: 'es2022', sourcemap: true, chunkSizeWarningLimit: CHUNK_WARNING_KB } as const;
}

/** The demo page build (`root: web/`). */
export function pageConfig(outDir = resolve(repo, 'web/dist')): UserConfig {
  return {
    root: resolve(repo, 'web'),
    base: './',
    resolve: resolveOptions,
    plugins: [serveRepoModels()],
    build: commonBuild(outDir),
  };
}

/**
 * The browser ES module. Built as an app with a JS entry rather than in library mode, because library mode
 * inlines every asset as base64 — the wasm binaries would add ~1 MB of text to the bundle — while an app
 * build emits them as files and refers to them relative to the module (`new URL(…, import.meta.url)`), so
 * the folder works wherever it is copied. Everything is bundled (tfjs included): a page needs no import map.
 */
export function browserLibConfig(outDir = resolve(repo, 'dist/browser')): UserConfig {
  return {
    root: repo,
    base: './',
    resolve: resolveOptions,
    publicDir: false,
    build: {
      ...commonBuild(outDir),
      // The module-preload polyfill is for HTML pages vite writes; a library has none.
      modulePreload: { polyfill: false },
      rolldownOptions: {
        input: resolve(repo, 'web/lib/browser-entry.ts'),
        // An app build drops the entry's exports by default; a library's exports are the point.
        preserveEntrySignatures: 'strict',
        output: {
          entryFileNames: 'multi-token.js',
          chunkFileNames: 'chunks/[name]-[hash].js',
          assetFileNames: 'assets/[name]-[hash][extname]',
        },
      },
    },
  };
}

export default defineConfig({
  ...pageConfig(),
  builder: {
    // `vite build` (and so `npm run build`) builds the page, then the library bundle.
    async buildApp(builder) {
      await builder.build(builder.environments.client);
      await build({ ...browserLibConfig(), configFile: false });
    },
  },
});
