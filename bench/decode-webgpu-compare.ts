/**
 * The engine against the library's own tfjs path on the same WebGPU implementation, interleaved (one token of
 * each in turn, so a shared machine's noise hits both alike): steady-state ms per token and dispatches per token.
 * The tfjs path is `loadLMM` + `generateTokens` on tfjs-webgpu with the packed frozen weights
 * (kernels/frozen-weight-webgpu.ts) — everything tfjs can do today without the engine. The engine's time per token
 * includes the step it submits ahead (it waits for the queue), so its pipelining gains nothing from the interleaving.
 */
import { tf } from '../src/tf.js';
import { loadLMM } from '../src/lmm/load.js';
import { generateTokens } from '../src/lm/generate.js';
import type { ModelSource } from '../src/io/source.js';
import type { WebGPULM } from '../src/webgpu/lm-engine.js';
import { registerWebGPUKernels } from '../kernels/register.js';

export interface CompareResult {
  engineMsPerToken: number;
  tfjsMsPerToken: number;
  /** tfjs ms / engine ms: how many times faster the engine decodes. */
  speedup: number;
  engineDispatchesPerToken: number;
  tfjsDispatchesPerToken: number;
  sameTokens: boolean;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

export async function compareWithTfjs(lm: WebGPULM, source: ModelSource, ids: Int32Array, steps: number): Promise<CompareResult> {
  await import('@tensorflow/tfjs-backend-webgpu');
  if (!(await tf.setBackend('webgpu'))) throw new Error('tfjs webgpu backend failed to start');
  registerWebGPUKernels();
  const lmm = await loadLMM(source);
  const pass = (globalThis as unknown as { GPUComputePassEncoder: { prototype: GPUComputePassEncoder } }).GPUComputePassEncoder.prototype;
  const dispatch = pass.dispatchWorkgroups;
  let count = 0;
  pass.dispatchWorkgroups = function (this: GPUComputePassEncoder, ...a: Parameters<GPUComputePassEncoder['dispatchWorkgroups']>) {
    count++;
    return dispatch.apply(this, a);
  };
  const engine = lm.generate(ids, { maxNewTokens: steps, stopTokenIds: [] });
  const tfjs = generateTokens(lmm.lm, { inputIds: [Array.from(ids)] }, { maxNewTokens: steps, stopTokenIds: [] });
  const rec = { engine: { ms: [] as number[], n: [] as number[], tokens: [] as number[] }, tfjs: { ms: [] as number[], n: [] as number[], tokens: [] as number[] } };
  try {
    for (let i = 0; i < steps; i++) {
      for (const [name, gen] of [['engine', engine], ['tfjs', tfjs]] as const) {
        const c0 = count;
        const t0 = performance.now();
        const r = await gen.next();
        if (r.done) throw new Error(`${name} stopped after ${i} tokens`);
        // The engine submits the next step before it returns a token: wait for that work here, or it would run
        // during (and be charged to) the tfjs step. tfjs's own work is done once its token is read back.
        if (name === 'engine') await lm.ctx.device.queue.onSubmittedWorkDone();
        const r2 = rec[name];
        r2.ms.push(performance.now() - t0);
        r2.n.push(count - c0);
        r2.tokens.push(typeof r.value === 'number' ? r.value : r.value.tokens[0]!);
      }
    }
  } finally {
    pass.dispatchWorkgroups = dispatch;
    await engine.return(undefined);
    await tfjs.return(undefined);
    lmm.dispose();
  }
  // From the third token on: the first carries the prefill, the engine's second was submitted with it.
  const e = median(rec.engine.ms.slice(2));
  const t = median(rec.tfjs.ms.slice(2));
  return {
    engineMsPerToken: +e.toFixed(1),
    tfjsMsPerToken: +t.toFixed(1),
    speedup: +(t / e).toFixed(2),
    engineDispatchesPerToken: median(rec.engine.n.slice(2)),
    tfjsDispatchesPerToken: median(rec.tfjs.n.slice(2)),
    sameTokens: rec.engine.tokens.join() === rec.tfjs.tokens.join(),
  };
}
