/**
 * The measuring half of bench/decode-webgpu.ts, isomorphic so the same code runs in Node (Dawn) and in a page
 * (headless Chromium): generates with the WebGPU engine and records, for every token, what the device saw in
 * between. The counters wrap the WebGPU API itself (every `dispatchWorkgroups`, every `mapAsync`, every
 * `createBuffer` on the engine's device), so they count what really happened, whoever caused it.
 */
import type { WebGPULM, DeviceSampling } from '../src/webgpu/lm-engine.js';

/** One decode step as the device saw it. */
export interface StepRecord {
  step: number;
  /** Milliseconds since the previous token was read back (the first: since generation started, prefill included). */
  ms: number;
  dispatches: number;
  /** Bytes mapped for reading (the readback). */
  readbackBytes: number;
  readbacks: number;
  buffersCreated: number;
  token: number;
}

export interface DecodeBenchResult {
  promptTokens: number;
  steps: StepRecord[];
  /** Over steps 2…n (steady state): medians and totals. */
  steady: {
    tokensPerSecond: number;
    msPerToken: number;
    /** Measured on the device. */
    dispatchesPerToken: number;
    /** The engine's per-layer count, and what the measured total leaves outside the layers (embedding, lm_head, sampler). */
    dispatchesPerLayer: number;
    dispatchesOutsideLayers: number;
    readbackBytesPerToken: number;
    readbacksPerToken: number;
    buffersCreated: number;
  };
  memory: { weights: number; kv: number; activations: number; total: number };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : NaN;
}

/** Counts calls on the WebGPU API until `restore()`. */
function instrument(device: GPUDevice) {
  const c = { dispatches: 0, readbacks: 0, readbackBytes: 0, created: 0 };
  const g = globalThis as unknown as { GPUComputePassEncoder: { prototype: GPUComputePassEncoder }; GPUBuffer: { prototype: GPUBuffer } };
  const pass = g.GPUComputePassEncoder.prototype;
  const buf = g.GPUBuffer.prototype;
  const dispatch = pass.dispatchWorkgroups;
  const map = buf.mapAsync;
  const create = device.createBuffer;
  pass.dispatchWorkgroups = function (this: GPUComputePassEncoder, ...a: Parameters<GPUComputePassEncoder['dispatchWorkgroups']>) {
    c.dispatches++;
    return dispatch.apply(this, a);
  };
  buf.mapAsync = function (this: GPUBuffer, mode: number, offset?: number, size?: number) {
    c.readbacks++;
    c.readbackBytes += size ?? this.size - (offset ?? 0);
    return map.call(this, mode, offset, size);
  };
  device.createBuffer = function (this: GPUDevice, d: GPUBufferDescriptor) {
    c.created++;
    return create.call(this, d);
  };
  return {
    c,
    restore() {
      pass.dispatchWorkgroups = dispatch;
      buf.mapAsync = map;
      device.createBuffer = create;
    },
  };
}

/** Generates `steps` tokens after `promptIds` and records each step. */
export async function benchDecode(lm: WebGPULM, promptIds: Int32Array, steps: number, sampling: DeviceSampling = {}): Promise<DecodeBenchResult> {
  const { c, restore } = instrument(lm.ctx.device);
  const records: StepRecord[] = [];
  try {
    let last = { ...c };
    let t = performance.now();
    for await (const token of lm.generate(promptIds, { ...sampling, maxNewTokens: steps, stopTokenIds: [] })) {
      const now = performance.now();
      records.push({
        step: records.length,
        ms: now - t,
        dispatches: c.dispatches - last.dispatches,
        readbackBytes: c.readbackBytes - last.readbackBytes,
        readbacks: c.readbacks - last.readbacks,
        buffersCreated: c.created - last.created,
        token,
      });
      last = { ...c };
      t = now;
    }
  } finally {
    restore();
  }
  // Step 0 carries the prefill; step 1 the first decode step submitted alongside it. Steady state: from step 2.
  const steady = records.slice(2);
  const ms = median(steady.map((r) => r.ms));
  const layers = lm.plan.layers.length;
  const perToken = median(steady.map((r) => r.dispatches));
  const perLayer = lm.counts.dispatchesPerLayer;
  return {
    promptTokens: promptIds.length,
    steps: records,
    steady: {
      tokensPerSecond: 1000 / ms,
      msPerToken: ms,
      dispatchesPerToken: perToken,
      dispatchesPerLayer: perLayer,
      dispatchesOutsideLayers: perToken - layers * perLayer,
      readbackBytesPerToken: median(steady.map((r) => r.readbackBytes)),
      readbacksPerToken: median(steady.map((r) => r.readbacks)),
      buffersCreated: steady.reduce((s, r) => s + r.buffersCreated, 0),
    },
    memory: lm.memory,
  };
}
