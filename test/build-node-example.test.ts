/**
 * The package as a Node user gets it: `tsc -p tsconfig.build.json` (the first half of `npm run build`) into a
 * temp copy of the package, installed under `node_modules/multi-token` of a temp app; then
 * examples/node/generate.mjs, copied as is, answers about an image with `import … from 'multi-token'`, and a
 * TypeScript file importing the package type-checks against the emitted declarations.
 *
 * Built into a temp folder, not the repo's dist/: bin/multi-token.js prefers dist/ when it exists, so a build
 * left behind by a test would shadow everyone's source changes.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { PNG } from 'pngjs';
import { tf } from '../src/tf.js';
import { makeTinyMultimodalFiles } from '../src/tiny/tiny-multimodal.js';

const run = promisify(execFile);
const repo = fileURLToPath(new URL('..', import.meta.url));
const tsc = join(repo, 'node_modules', 'typescript', 'bin', 'tsc');

let dir = '';
const pkg = () => join(dir, 'pkg');
const app = () => join(dir, 'app');

/** A 40×32 PNG: a red disc on blue. */
function discPng(): Buffer {
  const png = new PNG({ width: 40, height: 32 });
  for (let i = 0; i < 40 * 32; i++) {
    const x = i % 40, y = Math.floor(i / 40);
    png.data.set((x - 20) ** 2 + (y - 16) ** 2 < 100 ? [220, 40, 40, 255] : [40, 80, 200, 255], i * 4);
  }
  return PNG.sync.write(png);
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mt-node-example-'));
  await run(process.execPath, [tsc, '-p', join(repo, 'tsconfig.build.json'), '--outDir', join(pkg(), 'dist')], { cwd: repo });
  // The package: its package.json (exports map) and dist/; dependencies resolve through the repo's node_modules.
  await copyFile(join(repo, 'package.json'), join(pkg(), 'package.json'));
  await symlink(join(repo, 'node_modules'), join(pkg(), 'node_modules'), 'dir');
  await mkdir(join(app(), 'node_modules'), { recursive: true });
  await symlink(pkg(), join(app(), 'node_modules', 'multi-token'), 'dir');
  await copyFile(join(repo, 'examples', 'node', 'generate.mjs'), join(app(), 'generate.mjs'));

  if (tf.getBackend() !== 'cpu') await tf.setBackend('cpu');
  // Seed 2's random weights answer with visible characters (most seeds answer with newlines).
  const files = await makeTinyMultimodalFiles({ modalities: ['vision_clip'], arch: 'qwen2', seed: 2 });
  for (const [name, data] of files) {
    await mkdir(join(dir, 'model', name, '..'), { recursive: true });
    await writeFile(join(dir, 'model', name), data);
  }
  await writeFile(join(dir, 'disc.png'), discPng());
});

after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('every path in package.json "exports" exists after the build, with declarations', async () => {
  const { exports } = JSON.parse(await readFile(join(pkg(), 'package.json'), 'utf8')) as { exports: Record<string, unknown> };
  const targets: string[] = [];
  const collect = (v: unknown): void => {
    if (typeof v === 'string') targets.push(v);
    // "source" points at the TypeScript sources for in-repo runs (node --conditions=source); not published.
    else if (v && typeof v === 'object') Object.entries(v).forEach(([k, x]) => k !== 'source' && collect(x));
  };
  // "./browser" is the vite bundle (the second half of `npm run build`), checked by e2e/esm-browser.test.ts.
  collect(Object.fromEntries(Object.entries(exports).filter(([k]) => k !== './browser')));
  assert.ok(targets.some((t) => t.endsWith('.d.ts')), 'exports name declaration files');
  for (const t of targets) assert.ok(existsSync(join(pkg(), t)), `${t} exists`);
});

test("examples/node/generate.mjs answers about an image through import from 'multi-token'", { timeout: 120_000 }, async (t) => {
  const { stdout, stderr } = await run(process.execPath, ['generate.mjs', join(dir, 'model'), join(dir, 'disc.png'), 'What shape is this?'], {
    cwd: app(),
    env: { ...process.env, MULTI_TOKEN_BACKEND: 'wasm' },
  });
  t.diagnostic(`stdout: ${JSON.stringify(stdout)}; stderr: ${JSON.stringify(stderr.trim().split('\n').pop())}`);
  assert.match(stderr, /\[multi-token\] backend: wasm/);
  assert.ok(stdout.trim().length > 0, 'printed an answer');
});

test("the tiny-checkpoint generators come from 'multi-token/testing', not the main entry point", { timeout: 120_000 }, async () => {
  await writeFile(
    join(app(), 'tiny.mjs'),
    `import * as main from 'multi-token';
import { makeTinyLMFiles, makeTinyMultimodalFiles, TINY_MODALITIES } from 'multi-token/testing';
const files = await makeTinyLMFiles({ arch: 'llama', seed: 1 });
console.log(JSON.stringify({ main: 'makeTinyLMFiles' in main, files: [...files.keys()].sort(), multimodal: typeof makeTinyMultimodalFiles, kinds: TINY_MODALITIES.length }));
`,
  );
  const { stdout } = await run(process.execPath, ['tiny.mjs'], { cwd: app(), env: { ...process.env, MULTI_TOKEN_BACKEND: 'cpu' } });
  const got = JSON.parse(stdout.trim().split('\n').pop()!) as { main: boolean; files: string[]; multimodal: string; kinds: number };
  assert.equal(got.main, false, "the main entry point no longer exports the generators");
  assert.ok(got.files.includes('config.json') && got.files.includes('model.safetensors') && got.files.includes('tokenizer.json'), got.files.join());
  assert.equal(got.multimodal, 'function');
  assert.ok(got.kinds >= 6);
});

test('a TypeScript consumer type-checks against the emitted declarations', { timeout: 120_000 }, async () => {
  await writeFile(
    join(app(), 'check.ts'),
    `import { loadLMM, generateBatch, type LMMGeneration } from 'multi-token';
import { makeTinyLMFiles, type TinyLMOptions } from 'multi-token/testing';
const options: TinyLMOptions = { arch: 'llama' };
export const files: Map<string, Uint8Array | string> = await makeTinyLMFiles(options);
const lmm = await loadLMM('model');
const out: LMMGeneration[] = await generateBatch(lmm, [{ messages: [{ role: 'user', content: 'hi' }] }]);
// @ts-expect-error maxNewTokens is a number
await generateBatch(lmm, [], { maxNewTokens: 'many' });
export const text: string = out[0]!.text;
`,
  );
  await writeFile(
    join(app(), 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, skipLibCheck: true, lib: ['ES2022', 'DOM'], types: [] },
      files: ['check.ts'],
    }),
  );
  await writeFile(join(app(), 'package.json'), '{"type":"module"}');
  await run(process.execPath, [tsc, '-p', join(app(), 'tsconfig.json')], { cwd: app() }).catch((e: { stdout?: string }) => {
    throw new Error(`tsc failed:\n${e.stdout ?? e}`);
  });
});
