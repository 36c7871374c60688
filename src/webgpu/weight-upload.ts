/**
 * Streams a planned checkpoint (lm-plan.ts) from its safetensors files into GPU buffers. Each file is read
 * once, front to back, in chunks (weight-bytes.ts); each chunk's bytes go to the buffers of the tensors they
 * belong to (`queue.writeBuffer` at the tensor's place in a fused weight), so the JS heap holds one chunk plus
 * the small tensors (scales, zero points, biases, norms), never a file or a large weight.
 *
 * Buffers are all created first, inside an out-of-memory error scope: a model that does not fit fails there,
 * with numbers, before any weight byte is read.
 */
import { rawToFloat32 } from '../io/safetensors.js';
import { bytesToWords, isQuantized, packedWordCounts, type PackedLayout } from '../../kernels/packed-weight.js';
import { formatGpuBytes, ModelTooLargeError, planLinears, type LinearPlan, type LMPlan, type VectorPlan } from './lm-plan.js';
import type { TensorEntry } from './safetensors-index.js';
import type { WeightBytes } from './weight-bytes.js';
import type { GpuContext } from './gpu-context.js';
import { CpuSink, DirectSink, RowSink, type Sink } from './upload-sinks.js';

/** A packed weight on the GPU. */
export interface GpuLinear {
  name: string;
  layout: PackedLayout;
  words: GPUBuffer;
  scales: GPUBuffer;
  zeros: GPUBuffer;
  /** f32 `[N]`, or null. */
  bias: GPUBuffer | null;
}

export interface GpuLayer {
  inputNorm: GPUBuffer;
  postNorm: GPUBuffer;
  qkv: GpuLinear;
  o: GpuLinear;
  gateUp: GpuLinear;
  down: GpuLinear;
}

/** Every weight of the model on the GPU. */
export interface GpuWeights {
  embed: GpuLinear;
  /** The embedding itself when tied. */
  lmHead: GpuLinear;
  layers: GpuLayer[];
  norm: GPUBuffer;
}

/** Progress of an upload: bytes of weight data read so far of the total. */
export interface UploadProgress {
  loaded: number;
  total: number;
  /** The file being read. */
  file: string;
}

/** The buffers and the sinks that fill them, before streaming. */
interface Pending {
  sinks: Map<string, Sink>;
  /** Run after streaming: assemble CPU-held pieces and write them. */
  finish: (() => void)[];
}

function allocLinear(ctx: GpuContext, l: LinearPlan, p: Pending): GpuLinear {
  const c = packedWordCounts(l.layout);
  const g: GpuLinear = {
    name: l.name,
    layout: l.layout,
    words: ctx.storage(`${l.name} words`, 4 * c.words, 'weights'),
    scales: ctx.storage(`${l.name} scales`, 4 * c.scales, 'weights'),
    zeros: ctx.storage(`${l.name} zeros`, 4 * c.zeros, 'weights'),
    bias: l.hasBias ? ctx.storage(`${l.name} bias`, 4 * l.layout.N, 'weights') : null,
  };
  const q = ctx.device.queue;
  const { layout } = l;
  const quant = isQuantized(layout.format);
  const scaleSinks: CpuSink[] = [];
  const zeroSinks: (CpuSink | null)[] = [];
  const biasSinks: { sink: CpuSink; entry: TensorEntry }[] = [];
  let row = 0;
  for (const part of l.parts) {
    const rowBytes = layout.rowWords * 4;
    if (quant) {
      p.sinks.set(part.qweight!.name, new DirectSink(q, g.words, row * rowBytes));
      const ss = new CpuSink(part.scales!.end - part.scales!.start);
      p.sinks.set(part.scales!.name, ss);
      scaleSinks.push(ss);
      const zs = part.qzeros ? new CpuSink(part.qzeros.end - part.qzeros.start) : null;
      if (zs) p.sinks.set(part.qzeros!.name, zs);
      zeroSinks.push(zs);
    } else {
      const e = part.weight!;
      const inBytes = e.dtype === 'F32' ? 4 : 2;
      const convert = e.dtype === 'F32' && layout.format !== 'f32' ? (layout.format === 'f16' ? 'F16' : 'BF16') : 'none';
      const direct = convert === 'none' && layout.groupSize === layout.K;
      p.sinks.set(e.name, direct ? new DirectSink(q, g.words, row * rowBytes) : new RowSink(q, g.words, row * rowBytes, layout.K, layout.groupSize, inBytes, convert));
    }
    if (part.bias) {
      const bs = new CpuSink(part.bias.end - part.bias.start);
      p.sinks.set(part.bias.name, bs);
      biasSinks.push({ sink: bs, entry: part.bias });
    }
    row += part.rows;
  }
  p.finish.push(() => {
    if (quant) {
      const scales = new Uint8Array(layout.N * layout.nBlocks * 2);
      let at = 0;
      for (const s of scaleSinks) {
        scales.set(s.bytes, at);
        at += s.bytes.length;
      }
      q.writeBuffer(g.scales, 0, bytesToWords(scales, c.scales));
      if (layout.hasZeros) {
        const zeros = new Uint8Array(layout.N * layout.zeroRowBytes);
        const fill = layout.format === 'q4' ? 0x88 : 128; // the symmetric zero point, for parts stored without
        let zr = 0;
        l.parts.forEach((part, i) => {
          const z = zeroSinks[i];
          if (z) zeros.set(z.bytes, zr * layout.zeroRowBytes);
          else zeros.fill(fill, zr * layout.zeroRowBytes, (zr + part.rows) * layout.zeroRowBytes);
          zr += part.rows;
        });
        q.writeBuffer(g.zeros, 0, bytesToWords(zeros, c.zeros));
      }
    }
    if (g.bias) {
      const bias = new Float32Array(layout.N);
      let br = 0;
      for (const part of l.parts) {
        const b = biasSinks.find((s) => s.entry === part.bias);
        if (b) bias.set(rawToFloat32({ dtype: b.entry.dtype, shape: b.entry.shape, data: b.sink.bytes }), br);
        br += part.rows;
      }
      q.writeBuffer(g.bias, 0, bias);
    }
  });
  return g;
}

function allocVector(ctx: GpuContext, v: VectorPlan, p: Pending): GPUBuffer {
  const n = v.entry.shape[0];
  const buf = ctx.storage(v.name, 4 * n, 'weights');
  const sink = new CpuSink(v.entry.end - v.entry.start);
  p.sinks.set(v.entry.name, sink);
  p.finish.push(() => ctx.device.queue.writeBuffer(buf, 0, rawToFloat32({ dtype: v.entry.dtype, shape: v.entry.shape, data: sink.bytes })));
  return buf;
}

/** Every tensor entry a plan reads. */
function planEntries(plan: LMPlan): TensorEntry[] {
  const out: TensorEntry[] = [];
  for (const l of planLinears(plan)) {
    for (const part of l.parts) for (const e of [part.weight, part.qweight, part.scales, part.qzeros, part.bias]) if (e) out.push(e);
  }
  for (const l of plan.layers) out.push(l.inputNorm.entry, l.postNorm.entry);
  out.push(plan.norm.entry);
  return out;
}

/**
 * Creates the weight buffers of `plan` (failing cleanly when the device is out of memory) and streams the
 * weights into them.
 */
export async function uploadWeights(
  ctx: GpuContext,
  plan: LMPlan,
  bytes: WeightBytes,
  onProgress?: (p: UploadProgress) => void,
): Promise<GpuWeights> {
  const p: Pending = { sinks: new Map(), finish: [] };
  ctx.device.pushErrorScope('out-of-memory');
  const embed = allocLinear(ctx, plan.embed, p);
  const weights: GpuWeights = {
    embed,
    lmHead: plan.lmHead ? allocLinear(ctx, plan.lmHead, p) : embed,
    layers: plan.layers.map((l) => ({
      inputNorm: allocVector(ctx, l.inputNorm, p),
      postNorm: allocVector(ctx, l.postNorm, p),
      qkv: allocLinear(ctx, l.qkv, p),
      o: allocLinear(ctx, l.o, p),
      gateUp: allocLinear(ctx, l.gateUp, p),
      down: allocLinear(ctx, l.down, p),
    })),
    norm: allocVector(ctx, plan.norm, p),
  };
  const oom = await ctx.device.popErrorScope();
  if (oom) {
    throw new ModelTooLargeError(
      `the GPU is out of memory for this model's weights (${formatGpuBytes(plan.memory.weights)}; with KV cache and activations ` +
        `${formatGpuBytes(plan.memory.total)}): ${oom.message}. Use a smaller dtype (an int4 checkpoint, or dtype "f16"), or a shorter maxSeq.`,
    );
  }

  const entries = planEntries(plan);
  const total = entries.reduce((s, e) => s + (e.end - e.start), 0);
  let loaded = 0;
  let sinceSync = 0;
  const byFile = new Map<string, TensorEntry[]>();
  for (const e of entries) byFile.set(e.file, [...(byFile.get(e.file) ?? []), e]);
  for (const [file, list] of byFile) {
    list.sort((a, b) => a.start - b.start);
    const start = list[0].start;
    const end = list[list.length - 1].end;
    let pos = start;
    let k = 0; // first entry that may still get bytes
    for await (const chunk of bytes.stream(file, start, end)) {
      const cEnd = pos + chunk.length;
      while (k < list.length && list[k].end <= pos) k++;
      for (let i = k; i < list.length && list[i].start < cEnd; i++) {
        const e = list[i];
        const from = Math.max(e.start, pos);
        const to = Math.min(e.end, cEnd);
        if (to <= from) continue;
        p.sinks.get(e.name)!.write(chunk.subarray(from - pos, to - pos), from - e.start);
        loaded += to - from;
        sinceSync += to - from;
        if (to === e.end) p.sinks.get(e.name)!.end();
      }
      pos = cEnd;
      onProgress?.({ loaded, total, file });
      // Let the queue drain now and then, so writes waiting for the GPU do not pile up in memory.
      if (sinceSync > 64 << 20) {
        sinceSync = 0;
        await ctx.device.queue.onSubmittedWorkDone();
      }
    }
    if (pos !== end) throw new Error(`${file}: the stream ended at byte ${pos}, before ${end}`);
  }
  for (const f of p.finish) f();
  await ctx.device.queue.onSubmittedWorkDone();
  return weights;
}
