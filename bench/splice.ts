/**
 * Splice benchmark: the fused WGSL embedding merge vs the tfjs composite splice vs a plain
 * `copyBufferToBuffer` of the same number of output bytes (and vs a one-line WGSL copy shader of those bytes, a
 * baseline for what compute shaders manage on the device), on one WebGPU device in one run. Also times a training
 * step's merge forward + backward, fused vs composite: w.r.t. the projected rows only (projector / LoRA
 * training, the table frozen) and w.r.t. the table too (full finetuning; the second kernel).
 *
 *   npx tsx bench/splice.ts            # Node: Dawn (npm `webgpu`), SwiftShader when there is no GPU
 *   npx tsx bench/splice.ts --full     # also the full LLaVA-like shape (B=4, T=2048, D=4096)
 *   npx tsx bench/splice.ts --train-all   # time training steps at every shape, not only the small one
 *
 * Prints one JSON line. In a browser, import {@link benchSplice} after selecting the webgpu backend.
 *
 * Timing: each sample flushes tfjs's pending commands and awaits `queue.onSubmittedWorkDone()`, so it covers the
 * GPU work plus tfjs's per-op CPU overhead (both paths upload their small index tensors). Warm-ups compile
 * pipelines first; medians of several samples. `floorMs` (an empty submit + wait) shows the fixed latency in
 * every sample, which dominates tiny shapes.
 */
import { tf, type Tensor } from '../src/tf.js';
import { buildSpliceLayout, type LayoutRow, type SpliceLayout } from '../src/splice/layout.js';
import { mergeEmbeddings } from '../src/splice/splice.js';
import { configurePlatform } from '../src/platform.js';
import { registerWebGPUKernels } from '../kernels/register.js';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';

/** A benchmark shape: batch, positions, hidden, vocabulary, and placeholder runs per row. */
export interface SpliceShape {
  name: string;
  B: number;
  T: number;
  D: number;
  V: number;
  runWidth: number;
  runsPerRow: number;
  reps: number;
}

export const SHAPES: Record<string, SpliceShape> = {
  small: { name: 'small', B: 2, T: 128, D: 256, V: 1000, runWidth: 16, runsPerRow: 4, reps: 30 },
  // Same hidden size, run width and image share of the sequence as the LLaVA shape, 1/8 of its positions.
  llavaLite: { name: 'llava-like-lite', B: 1, T: 1024, D: 4096, V: 32000, runWidth: 576, runsPerRow: 1, reps: 7 },
  llava: { name: 'llava-like', B: 4, T: 2048, D: 4096, V: 32000, runWidth: 576, runsPerRow: 2, reps: 5 },
};

/** Rows of text with `runsPerRow` image runs spread through them (two runs may be adjacent at small T). */
function layoutFor(s: SpliceShape): SpliceLayout {
  const rows: LayoutRow[] = [];
  for (let b = 0; b < s.B; b++) {
    const text = s.T - s.runsPerRow * s.runWidth;
    const gap = Math.floor(text / (s.runsPerRow + 1));
    const ids: number[] = [];
    const runs: LayoutRow['runs'] = [];
    for (let k = 0; k <= s.runsPerRow; k++) {
      for (let i = 0; i < (k === s.runsPerRow ? text - gap * s.runsPerRow : gap); i++) ids.push((ids.length * 7919 + b) % s.V);
      if (k === s.runsPerRow) break;
      runs.push({ modality: 0, instance: k, start: ids.length, width: s.runWidth });
      for (let i = 0; i < s.runWidth; i++) ids.push(-1);
    }
    rows.push({ inputIds: ids, runs });
  }
  return buildSpliceLayout(rows, [s.runWidth], s.T);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** A plain WGSL copy of `bytes` (one vec4 per invocation): the naive compute-shader baseline. */
function shaderCopy(device: GPUDevice, src: GPUBuffer, dst: GPUBuffer, bytes: number): () => void {
  const module = device.createShaderModule({
    code: `
      @group(0) @binding(0) var<storage, read> src : array<vec4<f32>>;
      @group(0) @binding(1) var<storage, read_write> dst : array<vec4<f32>>;
      @compute @workgroup_size(64)
      fn main(@builtin(global_invocation_id) g : vec3u, @builtin(num_workgroups) n : vec3u) {
        let i = g.x + g.y * n.x * 64u;
        if (i < arrayLength(&dst)) { dst[i] = src[i]; }
      }`,
  });
  const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
  const bind = device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: [{ binding: 0, resource: { buffer: src } }, { binding: 1, resource: { buffer: dst } }],
  });
  const groups = Math.ceil(bytes / 16 / 64);
  const x = Math.min(groups, device.limits.maxComputeWorkgroupsPerDimension);
  return () => {
    const enc = device.createCommandEncoder();
    const pass = enc.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bind);
    pass.dispatchWorkgroups(x, Math.ceil(groups / x));
    pass.end();
    device.queue.submit([enc.finish()]);
  };
}

/** Submits whatever tfjs has recorded, the way tfjs itself does before a readback. */
function flush(backend: WebGPUBackend): void {
  backend.ensureCommandEncoderReady();
  backend.endComputePassEncoder();
  backend.submitQueue();
}

/** Median wall time of `run` (which enqueues GPU work) until the queue is drained; `run`'s result is disposed. */
async function timeGpu(backend: WebGPUBackend, run: () => Tensor | void, reps: number, warmups = 2): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < warmups + reps; i++) {
    const t0 = performance.now();
    const out = run();
    flush(backend);
    await backend.device.queue.onSubmittedWorkDone();
    const dt = performance.now() - t0;
    if (out) out.dispose();
    if (i >= warmups) samples.push(dt);
  }
  return median(samples);
}

/** One shape's numbers; times in ms, bandwidths in GB/s of output bytes (each path reads and writes them once). */
export interface SpliceResult {
  shape: string;
  B: number;
  T: number;
  D: number;
  V: number;
  projectedRows: number;
  outBytes: number;
  kernelMs: number;
  compositeMs: number;
  copyMs: number;
  shaderCopyMs: number;
  floorMs: number;
  /** Forward + backward of the merge w.r.t. projected only, and w.r.t. table and projected; null: skipped. */
  trainProjected: { kernelMs: number; compositeMs: number; speedup: number } | null;
  trainTable: { kernelMs: number; compositeMs: number; speedup: number } | null;
  speedup: number;
  kernelGBps: number;
  copyGBps: number;
  bandwidthVsCopy: number;
  bandwidthVsShaderCopy: number;
}

/** Times `f` with the fused merge and with the composite (fast path off). */
async function fusedVsComposite(backend: WebGPUBackend, f: () => Tensor | void, reps: number, warmups = 2, compositeReps = reps) {
  registerWebGPUKernels();
  const kernelMs = await timeGpu(backend, f, reps, warmups);
  configurePlatform({ fastMerge: null });
  try {
    const compositeMs = await timeGpu(backend, f, compositeReps, compositeReps < reps ? 0 : warmups);
    return { kernelMs: +kernelMs.toFixed(3), compositeMs: +compositeMs.toFixed(3), speedup: +(compositeMs / kernelMs).toFixed(2) };
  } finally {
    registerWebGPUKernels();
  }
}

/**
 * Runs the shapes on the current tfjs backend, which must be webgpu; registers the kernel if needed.
 * `trainUpTo`: the largest B·T·D whose training steps are timed (the composite's table gradient is
 * unsortedSegmentSum, whose atomic adds take minutes on SwiftShader at LLaVA sizes). `log` gets progress lines.
 */
export async function benchSplice(
  shapes: SpliceShape[],
  trainUpTo = 1 << 17,
  log: (line: string) => void = () => {},
): Promise<SpliceResult[]> {
  if (tf.getBackend() !== 'webgpu') throw new Error(`bench/splice needs the webgpu backend, not ${tf.getBackend()}`);
  registerWebGPUKernels();
  const backend = tf.backend() as WebGPUBackend;
  const device = backend.device;
  const results: SpliceResult[] = [];
  for (const s of shapes) {
    const layout = layoutFor(s);
    const table = tf.randomUniform([s.V, s.D], -1, 1, 'float32', 1);
    const projected = tf.randomUniform([layout.numProjectedRows, s.D], -1, 1, 'float32', 2);
    const outBytes = s.B * s.T * s.D * 4;
    const src = device.createBuffer({ size: outBytes, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC });
    const dst = device.createBuffer({ size: outBytes, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
    const copy = () => {
      const enc = device.createCommandEncoder();
      enc.copyBufferToBuffer(src, 0, dst, 0, outBytes);
      device.queue.submit([enc.finish()]);
    };
    const floorMs = await timeGpu(backend, () => device.queue.submit([]), s.reps);
    const copyMs = await timeGpu(backend, copy, s.reps);
    const shaderCopyMs = await timeGpu(backend, shaderCopy(device, src, dst, outBytes), s.reps);
    const merge = await fusedVsComposite(backend, () => mergeEmbeddings(table, layout, projected), s.reps);
    log(`${s.name}: merge ${JSON.stringify(merge)}, copy ${copyMs.toFixed(3)} ms, shader copy ${shaderCopyMs.toFixed(3)} ms`);
    let trainProjected: SpliceResult['trainProjected'] = null;
    let trainTable: SpliceResult['trainTable'] = null;
    if (s.B * s.T * s.D <= trainUpTo) {
      const dy = tf.randomNormal([s.B, s.T, s.D], 0, 1, 'float32', 3);
      // Only the gradients asked for are computed (tfjs prunes the tape; the kernel's are lazy per input).
      const stepProjected = () => tf.grad((p: Tensor) => mergeEmbeddings(table, layout, p))(projected, dy);
      const stepBoth = () => {
        const [gTable, gProjected] = tf.grads((t: Tensor, p: Tensor) => mergeEmbeddings(t, layout, p))([table, projected], dy);
        gProjected.dispose();
        return gTable;
      };
      // Beyond the small shape a composite step takes minutes on SwiftShader (its gradients are atomic
      // compare-and-swap scatters): one cold sample of it, which also includes compiling its pipelines.
      const large = s.B * s.T * s.D > 1 << 17;
      const [reps, warmups, compositeReps] = large ? [3, 1, 1] : [s.reps, 2, s.reps];
      trainProjected = await fusedVsComposite(backend, stepProjected, reps, warmups, compositeReps);
      log(`${s.name}: trainProjected ${JSON.stringify(trainProjected)}`);
      trainTable = await fusedVsComposite(backend, stepBoth, Math.min(reps, 5), warmups, Math.min(compositeReps, 5));
      log(`${s.name}: trainTable ${JSON.stringify(trainTable)}`);
      dy.dispose();
    }
    src.destroy();
    dst.destroy();
    tf.dispose([table, projected]);
    const { kernelMs, compositeMs } = merge;
    const gbps = (ms: number) => +(outBytes / ms / 1e6).toFixed(3);
    results.push({
      shape: s.name,
      B: s.B,
      T: s.T,
      D: s.D,
      V: s.V,
      projectedRows: layout.numProjectedRows,
      outBytes,
      kernelMs: +kernelMs.toFixed(3),
      compositeMs: +compositeMs.toFixed(3),
      copyMs: +copyMs.toFixed(3),
      shaderCopyMs: +shaderCopyMs.toFixed(3),
      floorMs: +floorMs.toFixed(3),
      trainProjected,
      trainTable,
      speedup: merge.speedup,
      kernelGBps: gbps(kernelMs),
      copyGBps: gbps(copyMs),
      bandwidthVsCopy: +(copyMs / kernelMs).toFixed(3),
      bandwidthVsShaderCopy: +(shaderCopyMs / kernelMs).toFixed(3),
    });
  }
  return results;
}

/** Node entry: set up Dawn WebGPU, run, print one JSON line. */
async function main(): Promise<void> {
  // A computed specifier keeps bundlers (vite) from pulling this Node-only module into a browser build.
  const nodeModule = '../node/webgpu-node.js';
  const { initNodeWebGPU } = (await import(/* @vite-ignore */ nodeModule)) as typeof import('../node/webgpu-node.js');
  const status = await initNodeWebGPU();
  if (!status.ok) throw new Error(`no WebGPU in Node: ${status.reason}`);
  await import('@tensorflow/tfjs-backend-webgpu');
  if (!(await tf.setBackend('webgpu'))) throw new Error('tfjs webgpu backend failed to initialise');
  const full = process.argv.includes('--full');
  const shapes = [SHAPES.small, SHAPES.llavaLite, ...(full ? [SHAPES.llava] : [])];
  const trainUpTo = process.argv.includes('--train-all') ? Infinity : undefined;
  const results = await benchSplice(shapes, trainUpTo, (line) => console.error(`[bench/splice] ${line}`));
  console.log(JSON.stringify({ bench: 'splice', date: new Date().toISOString(), device: status.adapterInfo, results }));
}

const g = globalThis as { process?: { argv?: string[] } };
if (g.process?.argv?.[1]?.replace(/\\/g, '/').endsWith('bench/splice.ts')) {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
