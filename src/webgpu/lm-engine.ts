/**
 * A Llama-family decoder (Llama, Mistral, Qwen2) run directly on WebGPU, for inference with packed weights.
 *
 * Everything a decode step needs is created once: activations, the KV cache (`maxSeq` positions), uniform
 * buffers, pipelines and bind groups. A step is then one command buffer of 6 dispatches per layer
 *
 *   q|k|v matvec with the input RMSNorm folded in → RoPE + KV write → attention (online softmax)
 *   → o matvec + residual → gate|up matvec with the post-attention norm and SwiGLU folded in → down + residual
 *
 * plus embedding, final norm + lm_head, and sampling on the GPU (5 small kernels). The sampled token stays on the
 * GPU (the next step's embedding reads it) and is copied to a mapped buffer: one readback of 4 bytes per token,
 * and the next step is submitted before that readback is awaited, so the GPU does not wait on the page.
 *
 * Prefill runs the same layers in chunks of positions with the tiled matmul, RMSNorm and SwiGLU as separate
 * kernels (dispatch count does not matter there), and may splice projected modality rows into the embeddings.
 */
import type { LMPlan } from './lm-plan.js';
import type { GpuContext } from './gpu-context.js';
import type { GpuWeights } from './weight-upload.js';
import { EngineBuffers } from './lm-buffers.js';
import { SAMPLE_FIELDS, uniformData } from './lm-shaders.js';
import { EngineDispatches, type ChunkDispatch, type Dispatch } from './lm-dispatches.js';

/** Sampling on the device (see kernels/lm-sample.wgsl). */
export interface DeviceSampling {
  /** 0 = greedy. */
  temperature?: number;
  topK?: number;
  topP?: number;
  seed?: number;
}

const MAX_X = 65535;

/** Counts of one decode step, by construction (the bench measures them too). */
export interface StepCounts {
  dispatchesPerToken: number;
  dispatchesPerLayer: number;
  readbackBytesPerToken: number;
}

export class WebGPULM {
  private stagingBusy = [false, false];
  private busy = false;
  private projectedRows = 0;

  /** Every buffer besides the weights (lm-buffers.ts). */
  private readonly b: EngineBuffers;
  /** The recorded dispatches (lm-dispatches.ts). */
  private readonly d: EngineDispatches;

  private constructor(
    readonly ctx: GpuContext,
    readonly plan: LMPlan,
    readonly weights: GpuWeights,
  ) {
    this.b = new EngineBuffers(ctx, plan);
    this.d = new EngineDispatches(ctx, plan, weights, this.b);
  }

  /** Compiles the kernels and records the dispatches of a decode step and of a prefill chunk. */
  static async create(ctx: GpuContext, plan: LMPlan, weights: GpuWeights): Promise<WebGPULM> {
    if (plan.config.hiddenAct !== 'silu') throw new Error(`the WebGPU engine runs SwiGLU (silu) MLPs; this model uses ${plan.config.hiddenAct}`);
    if (plan.config.headDim > 256) throw new Error(`head_dim ${plan.config.headDim} is above the attention kernel's 256`);
    const lm = new WebGPULM(ctx, plan, weights);
    await lm.d.record();
    return lm;
  }

  /** Dispatch counts of a decode step. */
  get counts(): StepCounts {
    return { dispatchesPerToken: this.d.decode.length, dispatchesPerLayer: this.d.layerDispatches, readbackBytesPerToken: 4 };
  }

  /** Bytes of GPU memory this model holds, by purpose. */
  get memory(): { weights: number; kv: number; activations: number; total: number } {
    return { ...this.ctx.bytes, total: this.ctx.totalBytes };
  }

  private encode(pass: GPUComputePassEncoder, d: Dispatch | ChunkDispatch, M: number): void {
    const n = typeof d.groups === 'number' ? d.groups : d.groups(M);
    pass.setPipeline(d.pipeline);
    pass.setBindGroup(0, d.bindGroup);
    pass.dispatchWorkgroups(Math.min(n, MAX_X), Math.ceil(n / MAX_X));
  }

  private setSampling(s: DeviceSampling, advance: boolean): void {
    const v = {
      temperature: Math.max(0, s.temperature ?? 0), topK: Math.max(0, Math.floor(s.topK ?? 0)), topP: Math.min(1, s.topP ?? 1),
      seed: (s.seed ?? 0) >>> 0, advance: advance ? 1 : 0, V: this.plan.config.vocabSize,
    };
    this.ctx.device.queue.writeBuffer(this.b.params, 0, uniformData(SAMPLE_FIELDS, v));
  }

  /** Copies the token id into readback buffer `slot` (after the step's sample kernel). */
  private copyToken(enc: GPUCommandEncoder, slot: number): void {
    enc.copyBufferToBuffer(this.b.state, 0, this.b.staging[slot], 0, 4);
  }

  private async readToken(slot: number): Promise<number> {
    const b = this.b.staging[slot];
    await b.mapAsync(1 /* GPUMapMode.READ */, 0, 8);
    const tok = new Int32Array(b.getMappedRange(0, 8).slice(0))[0];
    b.unmap();
    this.stagingBusy[slot] = false;
    return tok;
  }

  /** Runs the prompt through the model in chunks and samples the first token into readback `slot`. */
  private prefill(ids: Int32Array, projected: Float32Array | null, slot: number): void {
    const q = this.ctx.device.queue;
    const D = this.plan.config.hiddenSize;
    if (projected && projected.length > 0) {
      const rows = projected.length / D;
      if (rows > this.projectedRows) {
        if (this.b.projected !== this.b.dummy) this.b.projected.destroy();
        this.b.projected = this.ctx.storage('projected modality rows', projected.byteLength, 'activations');
        this.projectedRows = rows;
        this.d.rebindProjected();
      }
      q.writeBuffer(this.b.projected, 0, projected);
    }
    const C = this.plan.prefillChunk;
    for (let start = 0; start < ids.length; start += C) {
      const M = Math.min(C, ids.length - start);
      q.writeBuffer(this.b.idsP, 0, ids.subarray(start, start + M));
      q.writeBuffer(this.b.state, 4, Int32Array.of(start));
      for (const u of this.d.chunkUniforms) q.writeBuffer(u.buffer, 0, uniformData(u.fields, { ...u.values, M }));
      const enc = this.ctx.device.createCommandEncoder({ label: `prefill ${start}` });
      const pass = enc.beginComputePass();
      this.encode(pass, this.d.chunkEmbed, M);
      for (const d of this.d.chunk) this.encode(pass, d, M);
      pass.end();
      if (start + M === ids.length) {
        enc.copyBufferToBuffer(this.b.xP, 4 * (M - 1) * D, this.b.x, 0, 4 * D);
      }
      q.submit([enc.finish()]);
    }
    q.writeBuffer(this.b.state, 4, Int32Array.of(ids.length));
    const enc = this.ctx.device.createCommandEncoder({ label: 'first token' });
    const pass = enc.beginComputePass();
    for (const d of this.d.tail) this.encode(pass, d, 1);
    pass.end();
    this.copyToken(enc, slot);
    q.submit([enc.finish()]);
    this.stagingBusy[slot] = true;
  }

  /** One decode step: feeds the token in state[0], samples the next into readback `slot`. */
  private step(slot: number): void {
    const enc = this.ctx.device.createCommandEncoder();
    const pass = enc.beginComputePass();
    for (const d of this.d.decode) this.encode(pass, d, 1);
    pass.end();
    this.copyToken(enc, slot);
    this.ctx.device.queue.submit([enc.finish()]);
    this.stagingBusy[slot] = true;
  }

  /**
   * Generates up to `maxNewTokens` tokens after `ids` (negative ids are modality placeholders: -r-1 takes row r
   * of `projected`, `[R, D]` float32), yielding each as soon as its 4 bytes are read back. Stops after a stop
   * token (yielded) or when the KV cache is full. One generation at a time per model.
   */
  async *generate(
    ids: Int32Array,
    opts: DeviceSampling & { maxNewTokens: number; stopTokenIds?: number[]; projected?: Float32Array | null; signal?: AbortSignal },
  ): AsyncGenerator<number> {
    if (this.busy) throw new Error('this model is already generating; wait for the other answer to finish');
    const { vocabSize: V, hiddenSize: D } = this.plan.config;
    if (ids.length === 0) throw new Error('generate: the prompt is empty');
    const rows = opts.projected ? opts.projected.length / D : 0;
    if (!Number.isInteger(rows)) throw new Error(`generate: projected rows hold ${opts.projected!.length} values, not a multiple of hidden size ${D}`);
    ids.forEach((id, p) => {
      if (id >= V || (id < 0 && -id - 1 >= rows)) throw new Error(`generate: prompt position ${p} has id ${id}, outside the vocabulary (${V}) and the ${rows} projected rows`);
    });
    const room = this.plan.maxSeq - ids.length;
    if (room < 1) throw new Error(`the prompt is ${ids.length} tokens; this model was loaded with room for ${this.plan.maxSeq} (maxSeq)`);
    const total = Math.min(opts.maxNewTokens, room);
    const stop = new Set(opts.stopTokenIds ?? this.plan.config.eosTokenIds);
    this.busy = true;
    let submitted = 0;
    try {
      this.setSampling(opts, false);
      this.prefill(ids, opts.projected ?? null, 0);
      this.setSampling(opts, true);
      submitted = 1;
      if (total > 1) {
        this.step(1);
        submitted = 2;
      }
      for (let n = 0; n < total; n++) {
        const tok = await this.readToken(n % 2);
        yield tok;
        if (stop.has(tok) || opts.signal?.aborted) break;
        if (submitted < total) {
          this.step(submitted % 2);
          submitted++;
        }
      }
    } finally {
      // A step may still be in flight (pipelined): let it land before the buffers are reused.
      for (const slot of [0, 1]) if (this.stagingBusy[slot]) await this.readToken(slot).catch(() => 0);
      this.busy = false;
    }
  }

  /**
   * The logits of the last step (`[V]`), read back through a new buffer: for tests and debugging only (a
   * generation never reads logits).
   */
  async debugLogits(): Promise<Float32Array> {
    const V = this.plan.config.vocabSize;
    const b = this.ctx.device.createBuffer({ size: 4 * V, usage: 0x0001 | 0x0008 });
    const enc = this.ctx.device.createCommandEncoder();
    enc.copyBufferToBuffer(this.b.logits, 0, b, 0, 4 * V);
    this.ctx.device.queue.submit([enc.finish()]);
    await b.mapAsync(1);
    const out = new Float32Array(b.getMappedRange().slice(0));
    b.destroy();
    return out;
  }

  /** Frees every GPU buffer of the model. */
  dispose(): void {
    this.ctx.destroy();
    if (this.ownsDevice) this.ctx.device.destroy();
  }

  /** Set by the loader when it requested the device for this model alone: dispose() then destroys it too. */
  ownsDevice = false;
}
