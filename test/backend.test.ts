/**
 * Backend selection (node/backend.ts, src/backend.ts) and WebGPU in Node through Dawn + SwiftShader.
 *
 * tfjs backends are process-global: tests here run in order and the file ends on 'cpu'.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { tf } from '../src/tf.js';
import { describeSelection, selectBrowserBackend } from '../src/backend.js';
import { backendFlag, selectNodeBackend } from '../node/backend.js';
import { initNodeWebGPU, SWIFTSHADER_ICD } from '../node/webgpu-node.js';
import { missingTool } from './helpers/missing-tool.js';

after(async () => {
  await tf.setBackend('cpu');
});

/** Runs fn with process.stderr.write captured; returns what was written. */
async function captureStderr<T>(fn: () => Promise<T>): Promise<{ value: T; text: string }> {
  const original = process.stderr.write.bind(process.stderr);
  let text = '';
  process.stderr.write = ((chunk: string | Uint8Array) => {
    text += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    return true;
  }) as typeof process.stderr.write;
  try {
    return { value: await fn(), text };
  } finally {
    process.stderr.write = original;
  }
}

/** Runs fn with MULTI_TOKEN_BACKEND set to value (or deleted), restoring it afterwards. */
async function withEnv<T>(value: string | undefined, fn: () => Promise<T>): Promise<T> {
  const saved = process.env.MULTI_TOKEN_BACKEND;
  if (value === undefined) delete process.env.MULTI_TOKEN_BACKEND;
  else process.env.MULTI_TOKEN_BACKEND = value;
  try {
    return await fn();
  } finally {
    if (saved === undefined) delete process.env.MULTI_TOKEN_BACKEND;
    else process.env.MULTI_TOKEN_BACKEND = saved;
  }
}

test('auto selection skips the absent tfjs-node packages, picks wasm + onnxruntime, and prints one line', async () => {
  const { value: sel, text } = await withEnv(undefined, () => captureStderr(() => selectNodeBackend()));
  assert.equal(sel.name, 'wasm');
  assert.equal(sel.engine, 'onnxruntime');
  assert.equal(tf.getBackend(), 'wasm');
  assert.deepEqual(sel.skipped.map((s) => s.name), ['tfjs-node-gpu', 'tfjs-node']);
  for (const s of sel.skipped) assert.match(s.reason, /^not installed \(npm i --ignore-scripts=false @tensorflow\/tfjs-node/);
  assert.equal(
    text,
    '[multi-token] backend: wasm + onnxruntime (skipped tfjs-node-gpu: not installed (npm i --ignore-scripts=false ' +
      '@tensorflow/tfjs-node-gpu on a CUDA machine); tfjs-node: not installed (npm i --ignore-scripts=false @tensorflow/tfjs-node))\n',
  );
  const y = tf.matMul(tf.ones([2, 3]), tf.ones([3, 2]));
  assert.deepEqual(Array.from(await y.data()), [3, 3, 3, 3]);
});

test('force: cpu works and quiet prints nothing', async () => {
  const { value: sel, text } = await captureStderr(() => selectNodeBackend({ force: 'cpu', quiet: true }));
  assert.deepEqual(sel, { name: 'cpu', skipped: [] });
  assert.equal(tf.getBackend(), 'cpu');
  assert.equal(text, '');
});

test('forcing an unknown name errors with the choices and the source', async () => {
  await assert.rejects(selectNodeBackend({ force: 'bogus', quiet: true }),
    /unknown backend "bogus" \(from --backend\); choose one of: auto, tensorflow, .*wasm, cpu, webgpu/);
  await withEnv('nope', () => assert.rejects(selectNodeBackend({ quiet: true }),
    /unknown backend "nope" \(from MULTI_TOKEN_BACKEND\)/));
});

test('forcing an unavailable backend says why', async () => {
  await assert.rejects(selectNodeBackend({ force: 'tensorflow', quiet: true }),
    /backend "tensorflow" \(from --backend\) is unavailable: tfjs-node-gpu: not installed .*tfjs-node: not installed/);
});

test('MULTI_TOKEN_BACKEND is honoured, and the flag wins over it', async () => {
  const fromEnv = await withEnv('cpu', () => selectNodeBackend({ quiet: true }));
  assert.equal(fromEnv.name, 'cpu');
  const flagWins = await withEnv('bogus', () => selectNodeBackend({ force: 'wasm', quiet: true }));
  assert.equal(flagWins.name, 'wasm');
  const auto = await withEnv('auto', () => selectNodeBackend({ quiet: true }));
  assert.equal(auto.name, 'wasm');
});

test('the onnxruntime engine can be forced on wasm or cpu, and plain wasm/cpu put the own kernels back', async () => {
  const { ortStats } = await import('../node/ort/binding.js');
  const product = async () => {
    const before = ortStats.runs;
    const y = tf.matMul(tf.ones([64, 128]), tf.ones([128, 64]));
    assert.equal((await y.data())[0], 128);
    return ortStats.runs - before;
  };
  for (const force of ['cpu+onnxruntime', 'wasm+onnxruntime', 'onnxruntime'] as const) {
    const { value: sel, text } = await captureStderr(() => selectNodeBackend({ force }));
    assert.equal(sel.engine, 'onnxruntime', force);
    assert.equal(text, `[multi-token] backend: ${sel.name} + onnxruntime\n`);
    assert.equal(await product(), 1, `${force}: the matmul ran in onnxruntime`);
  }
  for (const force of ['wasm', 'cpu'] as const) {
    const sel = await selectNodeBackend({ force, quiet: true });
    assert.equal(sel.engine, undefined);
    assert.equal(await product(), 0, `${force}: the backend's own matmul`);
  }
});

test('backendFlag reads --backend x and --backend=x', () => {
  assert.equal(backendFlag(['node', 'cli', '--backend', 'cpu']), 'cpu');
  assert.equal(backendFlag(['node', 'cli', '--backend=wasm', 'train']), 'wasm');
  assert.equal(backendFlag(['node', 'cli', 'train']), undefined);
});

test('describeSelection makes one line', () => {
  assert.equal(describeSelection({ name: 'cpu', skipped: [] }), 'backend: cpu');
  assert.equal(describeSelection({ name: 'wasm', skipped: [], engine: 'onnxruntime' }), 'backend: wasm + onnxruntime');
  assert.equal(
    describeSelection({ name: 'wasm', skipped: [{ name: 'webgpu', reason: 'a' }, { name: 'webgl', reason: 'b' }] }),
    'backend: wasm (skipped webgpu: a; webgl: b)',
  );
});

test('the browser selector, run in Node, skips webgpu and webgl with reasons and lands on wasm', async () => {
  const lines: string[] = [];
  const sel = await selectBrowserBackend({ onLog: (l) => lines.push(l) });
  assert.equal(sel.name, 'wasm');
  assert.deepEqual(sel.skipped.map((s) => s.name), ['webgpu', 'webgl']);
  assert.match(sel.skipped[0]!.reason, /^navigator\.gpu missing/);
  assert.match(sel.skipped[1]!.reason, /not registered/);
  assert.equal(lines.at(-1), describeSelection(sel));
  await assert.rejects(selectBrowserBackend({ force: 'tensorflow' }), /forced but is unavailable: tfjs-node runs only in Node/);
  const cpu = await selectBrowserBackend({ force: 'cpu' });
  assert.equal(cpu.name, 'cpu');
});

/** Deterministic inputs in [-1, 1], so both backends see the same numbers. */
function wave(shape: [number, number], phase: number): tf.Tensor2D {
  const n = shape[0] * shape[1];
  return tf.tensor2d(Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37 + phase)), shape);
}

async function matmulSoftmax(backend: string): Promise<{ mm: Float32Array; sm: Float32Array }> {
  assert.ok(await tf.setBackend(backend), `tf.setBackend('${backend}')`);
  await tf.ready();
  const [mm, sm] = tf.tidy(() => {
    const m = tf.matMul(wave([16, 32], 0), wave([32, 24], 1));
    return [m, tf.softmax(m)];
  });
  const out = { mm: (await mm.data()) as Float32Array, sm: (await sm.data()) as Float32Array };
  tf.dispose([mm, sm]);
  return out;
}

const noIcd = missingTool(existsSync(SWIFTSHADER_ICD) ? false
  : `no SwiftShader Vulkan ICD at ${SWIFTSHADER_ICD}: apt-get install chromium to run WebGPU in Node`);

test('WebGPU in Node (Dawn + SwiftShader): matmul + softmax match the cpu backend', { skip: noIcd }, async () => {
  const gpu = await initNodeWebGPU();
  assert.ok(gpu.ok, `initNodeWebGPU failed: ${gpu.ok ? '' : gpu.reason}`);
  assert.deepEqual(await initNodeWebGPU(), gpu, 'idempotent');

  const { value: sel, text } = await captureStderr(() => selectNodeBackend({ force: 'webgpu' }));
  assert.equal(sel.name, 'webgpu');
  assert.equal(text, '[multi-token] backend: webgpu\n');

  const onGpu = await matmulSoftmax('webgpu');
  const onCpu = await matmulSoftmax('cpu');
  for (const key of ['mm', 'sm'] as const) {
    const a = onGpu[key];
    const b = onCpu[key];
    assert.equal(a.length, b.length);
    let worst = 0;
    for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
    assert.ok(worst <= 1e-5, `${key}: max |webgpu - cpu| = ${worst}`);
  }
  assert.equal(tf.getBackend(), 'cpu');
});
