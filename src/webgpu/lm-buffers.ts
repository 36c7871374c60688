/**
 * Every GPU buffer of the decode engine besides the weights, created once at load: the decode step's activations
 * (one position), the KV cache (`maxSeq` positions per layer, float32), the prefill work area (`prefillChunk`
 * positions), the RoPE table, the sampler's state and parameters, and the two 8-byte buffers the token id is read
 * back through. Nothing here is resized or recreated per token.
 */
import type { LMPlan } from './lm-plan.js';
import type { GpuContext } from './gpu-context.js';
import { SAMPLE_FIELDS, uniformData } from './lm-shaders.js';
import { ropeInverseFrequencies } from '../lm/rope.js';

export class EngineBuffers {
  readonly x: GPUBuffer;
  readonly qkv: GPUBuffer;
  readonly attn: GPUBuffer;
  readonly h: GPUBuffer;
  readonly logits: GPUBuffer;
  /** `[token, position]` (i32): the sampler writes them, the next step's kernels read them. */
  readonly state: GPUBuffer;
  /** The sampling uniforms (temperature, top-k, top-p, seed, advance, V). */
  readonly params: GPUBuffer;
  readonly sampleScratch: GPUBuffer;
  /** Bound where a kernel takes no buffer (no bias, no norm, no modality rows). */
  readonly dummy: GPUBuffer;
  /** cos then sin, `[maxSeq, headDim / 2]` each. */
  readonly rope: GPUBuffer;
  readonly kCache: GPUBuffer[];
  readonly vCache: GPUBuffer[];
  readonly xP: GPUBuffer;
  readonly xnP: GPUBuffer;
  readonly qkvP: GPUBuffer;
  readonly attnP: GPUBuffer;
  readonly guP: GPUBuffer;
  readonly hP: GPUBuffer;
  readonly idsP: GPUBuffer;
  /** Projected modality rows of the current prompt (grown when a prompt brings more; the dummy when none). */
  projected: GPUBuffer;
  /** Two mapped buffers the token id is copied to, alternately (the next step runs while one is read). */
  readonly staging: GPUBuffer[];

  constructor(ctx: GpuContext, plan: LMPlan) {
    const { hiddenSize: D, intermediateSize: F, numAttentionHeads: H, numKeyValueHeads: KVH, headDim: hd, vocabSize: V } = plan.config;
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
