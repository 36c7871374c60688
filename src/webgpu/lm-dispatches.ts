/**
 * The decode engine's recorded work (lm-engine.ts runs it): compiles the kernels once and builds the dispatch lists
 * — a decode step (embedding, 6 per layer, lm_head, the sampler) and a prefill chunk — with their bind groups and
 * uniform buffers, so running a step only encodes what is here.
 */
import { matmulWorkgroups, matvecWorkgroups } from '../../kernels/dequant-source.js';
import type { LMPlan } from './lm-plan.js';
import type { GpuContext } from './gpu-context.js';
import type { GpuLinear, GpuWeights } from './weight-upload.js';
import type { EngineBuffers } from './lm-buffers.js';
import {
  ATTENTION_FIELDS, DEQUANT_BINDINGS, DEQUANT_FIELDS, EMBED_FIELDS, RMSNORM_FIELDS, ROPE_FIELDS, SWIGLU_FIELDS,
  SAMPLE_STAGES, attentionKernel, embedKernel, matmulKernel, matvecKernel, rmsnormKernel, ropeKvKernel, sampleKernel, swigluKernel,
  uniformData, type KernelSource,
} from './lm-shaders.js';

export interface Dispatch {
  label: string;
  pipeline: GPUComputePipeline;
  bindGroup: GPUBindGroup;
  /** Workgroups, before folding into y. */
  groups: number;
}

/** A prefill dispatch whose workgroup count depends on the chunk's rows. */
export interface ChunkDispatch extends Omit<Dispatch, 'groups'> {
  groups: (M: number) => number;
}

type Fields = Parameters<typeof uniformData>[0];

/** The dispatch lists of one model. */
export class EngineDispatches {
  readonly decode: Dispatch[] = [];
  /** lm_head and the sampler: the end of a decode step, and what follows a prefill. */
  readonly tail: Dispatch[] = [];
  readonly chunk: ChunkDispatch[] = [];
  chunkEmbed!: ChunkDispatch;
  /** Prefill uniform buffers: rewritten with each chunk's row count. */
  readonly chunkUniforms: { buffer: GPUBuffer; fields: Fields; values: Record<string, number> }[] = [];
  private readonly decodeUniforms = new Map<string, GPUBuffer>();
  layerDispatches = 0;

  constructor(
    private readonly ctx: GpuContext,
    private readonly plan: LMPlan,
    private readonly weights: GpuWeights,
    private readonly b: EngineBuffers,
  ) {}

  /** The prefill embedding's bind group again, after `b.projected` was replaced by a bigger buffer. */
  rebindProjected(): void {
    const k = embedKernel(this.weights.embed.layout.format, this.ctx.shaderF16);
    const u = this.chunkUniform(EMBED_FIELDS, this.embedValues(1));
    const w = this.weights.embed;
    this.chunkEmbed.bindGroup = this.ctx.bindGroup('embed', k.bindings, [this.b.xP, this.b.idsP, w.words, w.scales, w.zeros, this.b.projected, u]);
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
      out, input, l.words, l.scales, l.zeros, l.bias ?? this.b.dummy, opts.gamma ?? this.b.dummy, u,
    ]);
    return { label, pipeline, bindGroup, groups: matvecWorkgroups(units, shape) };
  }

  /** A prefill matmul dispatch. */
  private async matmul(label: string, l: GpuLinear, out: GPUBuffer, input: GPUBuffer, residual: boolean): Promise<ChunkDispatch> {
    const k = matmulKernel(l.layout.format, residual, this.ctx.shaderF16);
    const pipeline = await this.kernel(k);
    const u = this.chunkUniform(DEQUANT_FIELDS, this.linearValues(l, 1, l.layout.N));
    const bindGroup = this.ctx.bindGroup(label, k.bindings, [out, input, l.words, l.scales, l.zeros, l.bias ?? this.b.dummy, this.b.dummy, u]);
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
      prefill ? this.b.xP : this.b.x, prefill ? this.b.idsP : this.b.state, e.words, e.scales, e.zeros, prefill ? this.b.projected : this.b.dummy, u,
    ]);
    return prefill ? { label: 'embed', pipeline, bindGroup, groups: (M: number) => M } : { label: 'embed', pipeline, bindGroup, groups: 1 };
  }

  /** Compiles every kernel and builds the lists. */
  async record(): Promise<void> {
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
      const kv = [this.b.kCache[i], this.b.vCache[i]];
      // Decode: 6 dispatches.
      this.decode.push(await this.matvec(`L${i} qkv`, w.qkv, this.b.qkv, this.b.x, { gamma: w.inputNorm }));
      this.decode.push({
        label: `L${i} rope+kv`, pipeline: rope, groups: Math.ceil(ropeRow / 64),
        bindGroup: this.ctx.bindGroup(`L${i} rope`, ropeKvKernel().bindings, [this.b.qkv, ...kv, this.b.rope, this.b.state, this.decodeUniform(ROPE_FIELDS, ropeVals)]),
      });
      this.decode.push({
        label: `L${i} attention`, pipeline: attn, groups: H,
        bindGroup: this.ctx.bindGroup(`L${i} attention`, attentionKernel().bindings, [this.b.attn, this.b.qkv, ...kv, this.b.state, this.decodeUniform(ATTENTION_FIELDS, attnVals)]),
      });
      this.decode.push(await this.matvec(`L${i} o`, w.o, this.b.x, this.b.attn, { residual: true }));
      this.decode.push(await this.matvec(`L${i} gate|up`, w.gateUp, this.b.h, this.b.x, { gamma: w.postNorm, swiglu: true }));
      this.decode.push(await this.matvec(`L${i} down`, w.down, this.b.x, this.b.h, { residual: true }));

      // Prefill chunk.
      const normU = this.chunkUniform(RMSNORM_FIELDS, { M: 1, D, eps: c.rmsNormEps });
      this.chunk.push({
        label: `L${i} norm`, pipeline: norm, groups: (M) => M,
        bindGroup: this.ctx.bindGroup(`L${i} norm`, rmsnormKernel().bindings, [this.b.xnP, this.b.xP, w.inputNorm, normU]),
      });
      this.chunk.push(await this.matmul(`L${i} qkv`, w.qkv, this.b.qkvP, this.b.xnP, false));
      this.chunk.push({
        label: `L${i} rope+kv`, pipeline: rope, groups: (M) => Math.ceil((M * ropeRow) / 64),
        bindGroup: this.ctx.bindGroup(`L${i} prefill rope`, ropeKvKernel().bindings, [this.b.qkvP, ...kv, this.b.rope, this.b.state, this.chunkUniform(ROPE_FIELDS, ropeVals)]),
      });
      this.chunk.push({
        label: `L${i} attention`, pipeline: attn, groups: (M) => M * H,
        bindGroup: this.ctx.bindGroup(`L${i} prefill attention`, attentionKernel().bindings, [this.b.attnP, this.b.qkvP, ...kv, this.b.state, this.chunkUniform(ATTENTION_FIELDS, attnVals)]),
      });
      this.chunk.push(await this.matmul(`L${i} o`, w.o, this.b.xP, this.b.attnP, true));
      this.chunk.push({
        label: `L${i} post norm`, pipeline: norm, groups: (M) => M,
        bindGroup: this.ctx.bindGroup(`L${i} post norm`, rmsnormKernel().bindings, [this.b.xnP, this.b.xP, w.postNorm, normU]),
      });
      this.chunk.push(await this.matmul(`L${i} gate|up`, w.gateUp, this.b.guP, this.b.xnP, false));
      this.chunk.push({
        label: `L${i} swiglu`, pipeline: swiglu, groups: (M) => Math.ceil((M * F) / 64),
        bindGroup: this.ctx.bindGroup(`L${i} swiglu`, swigluKernel().bindings, [this.b.hP, this.b.guP, this.chunkUniform(SWIGLU_FIELDS, { M: 1, F })]),
      });
      this.chunk.push(await this.matmul(`L${i} down`, w.down, this.b.xP, this.b.hP, true));
    }
    this.tail.push(await this.matvec('lm_head', this.weights.lmHead, this.b.logits, this.b.x, { gamma: this.weights.norm }));
    for (const stage of SAMPLE_STAGES) {
      const k = sampleKernel(stage);
      const bindGroup = this.ctx.bindGroup(stage, k.bindings, [this.b.logits, this.b.state, this.b.sampleScratch, this.b.params]);
      this.tail.push({ label: stage, pipeline: await this.kernel(k), groups: 1, bindGroup });
    }
    this.layerDispatches = (this.decode.length - 1) / this.plan.layers.length;
    this.decode.push(...this.tail);
  }
}
