/**
 * Proves the headless-WebGPU recipe: Debian chromium + SwiftShader runs a compute shader on a page served from
 * 127.0.0.1, and without the WebGPU flags the page sees no usable WebGPU.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CHROMIUM_PATH, readResultPage, serveStatic, type StaticServer } from './chromium.js';
import { missingTool } from '../test/helpers/missing-tool.js';

/** Reports `{isolated, gpu, adapter?, output?, error?}` as JSON in #result, then sets data-done. */
const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>webgpu smoke</title>
<pre id="result"></pre>
<script type="module">
const out = document.getElementById('result');
const report = (r) => { out.textContent = JSON.stringify(r); out.dataset.done = '1'; };
const r = { isolated: self.crossOriginIsolated, gpu: !!navigator.gpu };
try {
  if (!navigator.gpu) { r.error = 'navigator.gpu missing'; report(r); }
  else {
    const adapter = await navigator.gpu.requestAdapter();
    if (!adapter) { r.error = 'requestAdapter() returned null'; report(r); }
    else {
      const info = adapter.info;
      r.adapter = [info.vendor, info.architecture, info.description].filter(Boolean).join(' / ');
      const device = await adapter.requestDevice();
      const module = device.createShaderModule({ code: \`
        @group(0) @binding(0) var<storage, read_write> data: array<f32>;
        @compute @workgroup_size(4) fn main(@builtin(global_invocation_id) id: vec3u) {
          data[id.x] = data[id.x] * 2.0;
        }\` });
      const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
      const input = new Float32Array([1, 2, 3, 4.5]);
      const storage = device.createBuffer({ size: input.byteLength,
        usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
      device.queue.writeBuffer(storage, 0, input);
      const readback = device.createBuffer({ size: input.byteLength,
        usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
      const bind = device.createBindGroup({ layout: pipeline.getBindGroupLayout(0),
        entries: [{ binding: 0, resource: { buffer: storage } }] });
      const enc = device.createCommandEncoder();
      const pass = enc.beginComputePass();
      pass.setPipeline(pipeline); pass.setBindGroup(0, bind); pass.dispatchWorkgroups(1); pass.end();
      enc.copyBufferToBuffer(storage, 0, readback, 0, input.byteLength);
      device.queue.submit([enc.finish()]);
      await readback.mapAsync(GPUMapMode.READ);
      r.output = Array.from(new Float32Array(readback.getMappedRange()));
      readback.unmap();
      report(r);
    }
  }
} catch (e) { r.error = String(e && e.message || e); report(r); }
</script>
`;

interface PageResult {
  isolated: boolean;
  gpu: boolean;
  adapter?: string;
  output?: number[];
  error?: string;
}

// Skips without Chromium, except under MULTI_TOKEN_REQUIRE_ALL=1 (CI), where the launch then fails.
const skip = missingTool(existsSync(CHROMIUM_PATH) ? false : `${CHROMIUM_PATH} missing: apt-get install -y chromium`);
let dir = '';
let server: StaticServer | undefined;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mt-webgpu-smoke-'));
  await writeFile(join(dir, 'index.html'), PAGE);
  server = await serveStatic(dir);
});

after(async () => {
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

function runPage(webgpu: boolean): Promise<PageResult> {
  return readResultPage<PageResult>(server!.url, { webgpu, timeoutMs: 60_000 });
}

test('with the WebGPU flags, a compute shader runs on SwiftShader in headless Chromium', { skip, timeout: 120_000 }, async (t) => {
  const r = await runPage(true);
  t.diagnostic(`adapter: ${r.adapter ?? 'none'}`);
  assert.equal(r.error, undefined, `page error: ${r.error}`);
  assert.equal(r.gpu, true);
  assert.match(r.adapter ?? '', /swiftshader/i);
  assert.deepEqual(r.output, [2, 4, 6, 9]);
  assert.equal(r.isolated, true, 'COOP/COEP headers from serveStatic make the page cross-origin isolated');
});

test('without the WebGPU flags the page has no usable WebGPU', { skip, timeout: 120_000 }, async (t) => {
  const r = await runPage(false);
  t.diagnostic(`without flags: ${r.error}`);
  assert.equal(r.output, undefined);
  assert.match(r.error ?? '', /^(navigator\.gpu missing|requestAdapter\(\) returned null)$/);
});

test('serveStatic serves MIME types and refuses paths outside its folder', async () => {
  await writeFile(join(dir, 'w.wasm'), new Uint8Array([0, 97, 115, 109]));
  const wasm = await fetch(new URL('w.wasm', server!.url));
  assert.equal(wasm.headers.get('content-type'), 'application/wasm');
  assert.equal(wasm.headers.get('cross-origin-embedder-policy'), 'require-corp');
  assert.equal((await wasm.arrayBuffer()).byteLength, 4);
  const escape = await fetch(new URL('/..%2f..%2fetc%2fpasswd', server!.url));
  assert.equal(escape.status, 404);
  await escape.body?.cancel();
});
