/**
 * A Llama-family decoder (Llama, Mistral, Qwen2) run directly on WebGPU, for inference with packed weights.
 *
 * Everything a decode step needs is created once: activations, the KV cache (`maxSeq` positions), uniform
 * buffers, pipelines and bind groups. A step is then one command buffer of 6 dispatches per layer
 *
 *   q|k|v matvec with the input RMSNorm folded in → RoPE + KV write → attention (online softmax)
 *   → o matvec + residual → gate|up matvec with the post-attention norm and SwiGLU folded in → down + residual
 *
 * plus embedding, final norm + lm_head, and sampling on the GPU (5 small kernels). The sampled token stays on the GPU (the next
 * step's embedding reads it) and is copied to a mapped 4-byte buffer: one readback of 4 bytes per token, and
 * the next step is submitted before that readback is awaited, so the GPU does not wait on the page.
 *
 * Prefill runs the same layers in chunks of positions with the tiled matmul, RMSNorm and SwiGLU as separate
 * kernels (dispatch count does not matter there), and may splice projected modality rows into the embeddings.
 */
import { matmulWorkgroups, matvecWorkgroups } from '../../kernels/dequant-source.js';
import { ropeInverseFrequencies } from '../lm/rope.js';
import type { LMPlan } from './lm-plan.js';
import type { GpuContext } from './gpu-context.js';
import type { GpuLinear, GpuWeights } from './weight-upload.js';
import {
  ATTENTION_FIELDS, DEQUANT_BINDINGS, DEQUANT_FIELDS, EMBED_FIELDS, RMSNORM_FIELDS, ROPE_FIELDS, SAMPLE_FIELDS, SWIGLU_FIELDS,
  SAMPLE_STAGES, attentionKernel, embedKernel, matmulKernel, matvecKernel, rmsnormKernel, ropeKvKernel, sampleKernel, swigluKernel,
  uniformData, type KernelSource,
} from './lm-shaders.js';

/** Sampling on the device (see kernels/lm-sample.wgsl). */
export interface DeviceSampling {
  /** 0 = greedy. */
  temperature?: number;
  topK?: number;
  topP?: number;
  seed?: number;
}

interface Dispatch {
  label: string;
  pipeline: GPUComputePipeline;
  bindGroup: GPUBindGroup;
  /** Workgroups, before folding into y. */
  groups: number;
}

/** A prefill dispatch whose workgroup count depends on the chunk's rows. */
interface ChunkDispatch extends Omit<Dispatch, 'groups'> {
  groups: (M: number) => number;
}

type Fields = Parameters<typeof uniformData>[0];

const MAX_X = 65535;

/** Counts of one decode step, by construction (the bench measures them too). */
export interface StepCounts {
  dispatchesPerToken: number;
  dispatchesPerLayer: number;
  readbackBytesPerToken: number;
}

export class WebGPULM {
  private decode: Dispatch[] = [];
  private tail: Dispatch[] = [];
  private chunk: ChunkDispatch[] = [];
  private chunkEmbed!: ChunkDispatch;
  /** Prefill uniform buffers: rewritten with each chunk's row count. */
  private readonly chunkUniforms: { buffer: GPUBuffer; fields: Fields; values: Record<string, number> }[] = [];
  private readonly decodeUniforms = new Map<string, GPUBuffer>();
  private readonly staging: GPUBuffer[];
  private stagingBusy = [false, false];
  private busy = false;
  private projectedRows = 0;
  private layerDispatches = 0;

  // Buffers (decode: one position; prefill: `prefillChunk` positions).
  private readonly x: GPUBuffer;
  private readonly qkv: GPUBuffer;
  private readonly attn: GPUBuffer;
  private readonly h: GPUBuffer;
  readonly logits: GPUBuffer;
  private readonly state: GPUBuffer;
  private readonly params: GPUBuffer;
  private readonly sampleScratch: GPUBuffer;
  private readonly dummy: GPUBuffer;
  private readonly rope: GPUBuffer;
  private readonly kCache: GPUBuffer[];
  private readonly vCache: GPUBuffer[];
  private readonly xP: GPUBuffer;
  private readonly xnP: GPUBuffer;
  private readonly qkvP: GPUBuffer;
  private readonly attnP: GPUBuffer;
  private readonly guP: GPUBuffer;
  private readonly hP: GPUBuffer;
  private readonly idsP: GPUBuffer;
  private projected: GPUBuffer;

  private constructor(
    readonly ctx: GpuContext,
    readonly plan: LMPlan,
    readonly weights: GpuWeights,
  ) {
    const c = plan.config;
    const { hiddenSize: D, intermediateSize: F, numAttentionHeads: H, numKeyValueHeads: KVH, headDim: hd, vocabSize: V } = c;
    const C = plan.prefillChunk;
    const qkvN = (H + 2 * KVH) * hd;
    const act = (label: string, floats: number) => ctx.storage(label, 4 * floats, 'activations');
    this.x = act('x', D);
    this.qkv = act('qkv', qkvN);
    this.attn = act('attn', H * hd);
    this.h = act('h', F);
    this.logits = act('logits', V);
    this.state = act('state [token, pos]', 4);
    this.dummy = act('unused binding', 4);
    this.sampleScratch = act('sampler scratch', 4);
    this.params = ctx.uniform('sampling', uniformData(SAMPLE_FIELDS, { temperature: 0, topK: 0, topP: 1, seed: 0, advance: 0, V }));
    this.rope = act('rope cos|sin', plan.maxSeq * hd);
    ctx.device.queue.writeBuffer(this.rope, 0, ropeTable(plan));
    const kvFloats = KVH * plan.maxSeq * hd;
    this.kCache = plan.layers.map((_, i) => ctx.storage(`k cache ${i}`, 4 * kvFloats, 'kv'));
    this.vCache = plan.layers.map((_, i) => ctx.storage(`v cache ${i}`, 4 * kvFloats, 'kv'));
    this.xP = act('prefill x', C * D);
    this.xnP = act('prefill normed x', C * D);
    this.qkvP = act('prefill qkv', C * qkvN);
    this.attnP = act('prefill attn', C * H * hd);
    this.guP = act('prefill gate|up', C * 2 * F);
    this.hP = act('prefill h', C * F);
    this.idsP = act('prefill ids', C);
    this.projected = this.dummy;
    this.staging = [ctx.readback('token readback 0', 8), ctx.readback('token readback 1', 8)];
  }

  /** Compiles the kernels and records the dispatches of a decode step and of a prefill chunk. */
  static async create(ctx: GpuContext, plan: LMPlan, weights: GpuWeights): Promise<WebGPULM> {
    if (plan.config.hiddenAct !== 'silu') throw new Error(`the WebGPU engine runs SwiGLU (silu) MLPs; this model uses ${plan.config.hiddenAct}`);
    if (plan.config.headDim > 256) throw new Error(`head_dim ${plan.config.headDim} is above the attention kernel's 256`);
    const lm = new WebGPULM(ctx, plan, weights);
    await lm.record();
    return lm;
  }

  /** Dispatch counts of a decode step. */
  get counts(): StepCounts {
    return { dispatchesPerToken: this.decode.length, dispatchesPerLayer: this.layerDispatches, readbackBytesPerToken: 4 };
  }

  /** Bytes of GPU memory this model holds, by purpose. */
  get memory(): { weights: number; kv: number; activations: number; total: number } {
    return { ...this.ctx.bytes, total: this.ctx.totalBytes };
  }

  private decodeUniform(fields: Fields, values: Record<string, number>): GPUBuffer {
    const key = fields.map(([n]) => `${n}=${values[n]}`).join(',');
    let b = this.decodeUniforms.get(key);
    if (!b) this.decodeUniforms.set(key, (b = this.ctx.uniform(`uniforms ${key}`, uniformData(fields, values))));
    return b;
  }

  private chunkUniform(fields: Fields, values: Record<string, number>): GPUBuffer {
    const key = fields.map(([n]) => `${n}=${values[n]}`).join(',');
    const found = this.chunkUniforms.find((u) => u.fields === fields && fields.every(([n]) => u.values[n] === values[n]));
    if (found) return found.buffer;
    const buffer = this.ctx.uniform(`prefill uniforms ${key}`, uniformData(fields, values));
    this.chunkUniforms.push({ buffer, fields, values });
    return buffer;
  }

  private async kernel(k: KernelSource): Promise<GPUComputePipeline> {
    return this.ctx.pipeline(k.label, k.code, k.entryPoint, k.bindings);
  }

  private linearValues(l: GpuLinear, M: number, units: number, eps = 0): Record<string, number> {
    const t = l.layout;
    return {
      M, units, K: t.K, groupSize: t.groupSize, nBlocks: t.nBlocks, rowWords: t.rowWords, zeroRowBytes: t.zeroRowBytes,
      hasZeros: t.hasZeros ? 1 : 0, hasBias: l.bias ? 1 : 0, eps,
    };
  }

  /** A decode matvec dispatch. */
  private async matvec(label: string, l: GpuLinear, out: GPUBuffer, input: GPUBuffer, opts: { gamma?: GPUBuffer; swiglu?: boolean; residual?: boolean }): Promise<Dispatch> {
    const units = opts.swiglu ? l.layout.N / 2 : l.layout.N;
    const f16 = this.ctx.shaderF16;
    const shape = this.ctx.matvecShape;
    const pipeline = await this.kernel(matvecKernel(l.layout.format, 1, { norm: !!opts.gamma, swiglu: opts.swiglu, residual: opts.residual }, f16, shape));
    const u = this.decodeUniform(DEQUANT_FIELDS, this.linearValues(l, 1, units, this.plan.config.rmsNormEps));
    const bindGroup = this.ctx.bindGroup(label, DEQUANT_BINDINGS, [
      out, input, l.words, l.scales, l.zeros, l.bias ?? this.dummy, opts.gamma ?? this.dummy, u,
    ]);
    return { label, pipeline, bindGroup, groups: matvecWorkgroups(units, shape) };
  }

  /** A prefill matmul dispatch. */
  private async matmul(label: string, l: GpuLinear, out: GPUBuffer, input: GPUBuffer, residual: boolean): Promise<ChunkDispatch> {
    const k = matmulKernel(l.layout.format, residual, this.ctx.shaderF16);
    const pipeline = await this.kernel(k);
    const u = this.chunkUniform(DEQUANT_FIELDS, this.linearValues(l, 1, l.layout.N));
    const bindGroup = this.ctx.bindGroup(label, k.bindings, [out, input, l.words, l.scales, l.zeros, l.bias ?? this.dummy, this.dummy, u]);
    return { label, pipeline, bindGroup, groups: (M) => matmulWorkgroups(M, l.layout.N) };
  }

  private embedValues(M: number): Record<string, number> {
    const t = this.weights.embed.layout;
    const c = this.plan.config;
    return {
      M, D: c.hiddenSize, V: c.vocabSize, idBase: 0, rowWords: t.rowWords, groupSize: t.groupSize, nBlocks: t.nBlocks,
      zeroRowBytes: t.zeroRowBytes, hasZeros: t.hasZeros ? 1 : 0,
    };
  }

  private async embedDispatch(prefill: boolean): Promise<Dispatch | ChunkDispatch> {
    const e = this.weights.embed;
    const k = embedKernel(e.layout.format, this.ctx.shaderF16);
    const pipeline = await this.kernel(k);
    const u = prefill ? this.chunkUniform(EMBED_FIELDS, this.embedValues(1)) : this.decodeUniform(EMBED_FIELDS, this.embedValues(1));
    const bindGroup = this.ctx.bindGroup('embed', k.bindings, [
      prefill ? this.xP : this.x, prefill ? this.idsP : this.state, e.words, e.scales, e.zeros, prefill ? this.projected : this.dummy, u,
    ]);
    return prefill ? { label: 'embed', pipeline, bindGroup, groups: (M: number) => M } : { label: 'embed', pipeline, bindGroup, groups: 1 };
  }

  private async record(): Promise<void> {
    const c = this.plan.config;
    const { hiddenSize: D, intermediateSize: F, numAttentionHeads: H, numKeyValueHeads: KVH, headDim: hd } = c;
    const maxSeq = this.plan.maxSeq;
    const rope = await this.kernel(ropeKvKernel());
    const attn = await this.kernel(attentionKernel());
    const norm = await this.kernel(rmsnormKernel());
    const swiglu = await this.kernel(swigluKernel());
    const ropeRow = (H + KVH) * (hd / 2) + KVH * hd;
    const ropeVals = { M: 1, H, KVH, hd, maxSeq };

    this.decode.push((await this.embedDispatch(false)) as Dispatch);
    this.chunkEmbed = (await this.embedDispatch(true)) as ChunkDispatch;
    for (const [i, w] of this.weights.layers.entries()) {
      const window = c.layerSlidingWindows[i] ?? 0;
      const attnVals = { M: 1, H, KVH, hd, maxSeq, window, scale: 1 / Math.sqrt(hd) };
      const kv = [this.kCache[i], this.vCache[i]];
      // Decode: 6 dispatches.
      this.decode.push(await this.matvec(`L${i} qkv`, w.qkv, this.qkv, this.x, { gamma: w.inputNorm }));
      this.decode.push({
        label: `L${i} rope+kv`, pipeline: rope, groups: Math.ceil(ropeRow / 64),
        bindGroup: this.ctx.bindGroup(`L${i} rope`, ropeKvKernel().bindings, [this.qkv, ...kv, this.rope, this.state, this.decodeUniform(ROPE_FIELDS, ropeVals)]),
      });
      this.decode.push({
        label: `L${i} attention`, pipeline: attn, groups: H,
        bindGroup: this.ctx.bindGroup(`L${i} attention`, attentionKernel().bindings, [this.attn, this.qkv, ...kv, this.state, this.decodeUniform(ATTENTION_FIELDS, attnVals)]),
      });
      this.decode.push(await this.matvec(`L${i} o`, w.o, this.x, this.attn, { residual: true }));
      this.decode.push(await this.matvec(`L${i} gate|up`, w.gateUp, this.h, this.x, { gamma: w.postNorm, swiglu: true }));
      this.decode.push(await this.matvec(`L${i} down`, w.down, this.x, this.h, { residual: true }));

      // Prefill chunk.
      const normU = this.chunkUniform(RMSNORM_FIELDS, { M: 1, D, eps: c.rmsNormEps });
      this.chunk.push({
        label: `L${i} norm`, pipeline: norm, groups: (M) => M,
        bindGroup: this.ctx.bindGroup(`L${i} norm`, rmsnormKernel().bindings, [this.xnP, this.xP, w.inputNorm, normU]),
      });
      this.chunk.push(await this.matmul(`L${i} qkv`, w.qkv, this.qkvP, this.xnP, false));
      this.chunk.push({
        label: `L${i} rope+kv`, pipeline: rope, groups: (M) => Math.ceil((M * ropeRow) / 64),
        bindGroup: this.ctx.bindGroup(`L${i} prefill rope`, ropeKvKernel().bindings, [this.qkvP, ...kv, this.rope, this.state, this.chunkUniform(ROPE_FIELDS, ropeVals)]),
      });
      this.chunk.push({
        label: `L${i} attention`, pipeline: attn, groups: (M) => M * H,
        bindGroup: this.ctx.bindGroup(`L${i} prefill attention`, attentionKernel().bindings, [this.attnP, this.qkvP, ...kv, this.state, this.chunkUniform(ATTENTION_FIELDS, attnVals)]),
      });
      this.chunk.push(await this.matmul(`L${i} o`, w.o, this.xP, this.attnP, true));
      this.chunk.push({
        label: `L${i} post norm`, pipeline: norm, groups: (M) => M,
        bindGroup: this.ctx.bindGroup(`L${i} post norm`, rmsnormKernel().bindings, [this.xnP, this.xP, w.postNorm, normU]),
      });
      this.chunk.push(await this.matmul(`L${i} gate|up`, w.gateUp, this.guP, this.xnP, false));
      this.chunk.push({
        label: `L${i} swiglu`, pipeline: swiglu, groups: (M) => Math.ceil((M * F) / 64),
        bindGroup: this.ctx.bindGroup(`L${i} swiglu`, swigluKernel().bindings, [this.hP, this.guP, this.chunkUniform(SWIGLU_FIELDS, { M: 1, F })]),
      });
      this.chunk.push(await this.matmul(`L${i} down`, w.down, this.xP, this.hP, true));
    }
    this.tail.push(await this.matvec('lm_head', this.weights.lmHead, this.logits, this.x, { gamma: this.weights.norm }));
    for (const stage of SAMPLE_STAGES) {
      const k = sampleKernel(stage);
      const bindGroup = this.ctx.bindGroup(stage, k.bindings, [this.logits, this.state, this.sampleScratch, this.params]);
      this.tail.push({ label: stage, pipeline: await this.kernel(k), groups: 1, bindGroup });
    }
    this.layerDispatches = (this.decode.length - 1) / this.plan.layers.length;
    this.decode.push(...this.tail);
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
    this.ctx.device.queue.writeBuffer(this.params, 0, uniformData(SAMPLE_FIELDS, v));
  }

  /** Copies the token id into readback buffer `slot` (after the step's sample kernel). */
  private copyToken(enc: GPUCommandEncoder, slot: number): void {
    enc.copyBufferToBuffer(this.state, 0, this.staging[slot], 0, 4);
  }

  private async readToken(slot: number): Promise<number> {
    const b = this.staging[slot];
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
        if (this.projected !== this.dummy) this.projected.destroy();
        this.projected = this.ctx.storage('projected modality rows', projected.byteLength, 'activations');
        this.projectedRows = rows;
        const e = this.chunkEmbed;
        const k = embedKernel(this.weights.embed.layout.format, this.ctx.shaderF16);
        const u = this.chunkUniform(EMBED_FIELDS, this.embedValues(1));
        const w = this.weights.embed;
        e.bindGroup = this.ctx.bindGroup('embed', k.bindings, [this.xP, this.idsP, w.words, w.scales, w.zeros, this.projected, u]);
      }
      q.writeBuffer(this.projected, 0, projected);
    }
    const C = this.plan.prefillChunk;
    for (let start = 0; start < ids.length; start += C) {
      const M = Math.min(C, ids.length - start);
      q.writeBuffer(this.idsP, 0, ids.subarray(start, start + M));
      q.writeBuffer(this.state, 4, Int32Array.of(start));
      for (const u of this.chunkUniforms) q.writeBuffer(u.buffer, 0, uniformData(u.fields, { ...u.values, M }));
      const enc = this.ctx.device.createCommandEncoder({ label: `prefill ${start}` });
      const pass = enc.beginComputePass();
      this.encode(pass, this.chunkEmbed, M);
      for (const d of this.chunk) this.encode(pass, d, M);
      pass.end();
      if (start + M === ids.length) {
        enc.copyBufferToBuffer(this.xP, 4 * (M - 1) * D, this.x, 0, 4 * D);
      }
      q.submit([enc.finish()]);
    }
    q.writeBuffer(this.state, 4, Int32Array.of(ids.length));
    const enc = this.ctx.device.createCommandEncoder({ label: 'first token' });
    const pass = enc.beginComputePass();
    for (const d of this.tail) this.encode(pass, d, 1);
    pass.end();
    this.copyToken(enc, slot);
    q.submit([enc.finish()]);
    this.stagingBusy[slot] = true;
  }

  /** One decode step: feeds the token in state[0], samples the next into readback `slot`. */
  private step(slot: number): void {
    const enc = this.ctx.device.createCommandEncoder();
    const pass = enc.beginComputePass();
    for (const d of this.decode) this.encode(pass, d, 1);
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
    enc.copyBufferToBuffer(this.logits, 0, b, 0, 4 * V);
    this.ctx.device.queue.submit([enc.finish()]);
    await b.mapAsync(1);
    const out = new Float32Array(b.getMappedRange().slice(0));
    b.destroy();
    return out;
  }

  /** Frees every GPU buffer of the model. */
  dispose(): void {
    this.ctx.destroy();
  }
}

/** cos then sin, `[maxSeq, hd/2]` each: angles in float32 (as HF), cos/sin in float64, rounded. */
function ropeTable(plan: LMPlan): Float32Array {
  const c = plan.config;
  const half = c.headDim / 2;
  const inv = ropeInverseFrequencies(c.headDim, c.ropeTheta, c.ropeScaling);
  const out = new Float32Array(2 * plan.maxSeq * half);
  for (let p = 0; p < plan.maxSeq; p++) {
    for (let j = 0; j < half; j++) {
      const angle = Math.fround(p * inv[j]);
      out[p * half + j] = Math.cos(angle);
      out[plan.maxSeq * half + p * half + j] = Math.sin(angle);
    }
  }
  return out;
}

