/**
 * What a Llama-family checkpoint becomes on the GPU, decided from config.json and the safetensors headers only:
 * every weight's packed format and layout (kernels/packed-weight.ts), how projections are fused (q|k|v rows in
 * one weight, gate|up rows in one), and the bytes of weights, KV cache and activations. {@link checkFits}
 * turns that into a clear refusal, with numbers and the way out, before any weight data is read.
 *
 * Quantized modules follow QUANT-LAYOUT.md (`P.qweight`/`P.scales`/`P.qzeros` + `quantization_config`); the
 * others are held as stored (F32, F16, BF16), or F32 narrowed to 16 bits with `dtype: 'f16' | 'bf16'`.
 */
import type { DType } from '../io/safetensors.js';
import type { LlamaConfig } from '../lm/config.js';
import { isQuantized, packedBytes, packedLayout, type PackedFormat, type PackedLayout } from '../../kernels/packed-weight.js';
import type { TensorEntry } from './safetensors-index.js';
import { parseQuantizationConfig, type QuantizationConfig } from '../quant/config.js';

/** How float weights are held: as stored, or F32 narrowed to a 16-bit format. */
export type HoldDType = 'auto' | 'f16' | 'bf16';

/** One stored module feeding a (possibly fused) GPU weight. */
export interface LinearPart {
  /** HF module name, e.g. `model.layers.0.self_attn.k_proj`. */
  prefix: string;
  rows: number;
  /** Float weight (`P.weight`), or the three quantized tensors. */
  weight?: TensorEntry;
  qweight?: TensorEntry;
  scales?: TensorEntry;
  qzeros?: TensorEntry;
  bias?: TensorEntry;
}

/** A weight on the GPU: parts stacked by rows, one packed layout. */
export interface LinearPlan {
  /** Name for messages: the module, or `a|b|c` for a fused one. */
  name: string;
  layout: PackedLayout;
  parts: LinearPart[];
  /** Source dtype of float parts (F32, F16, BF16); null when quantized. */
  sourceDType: DType | null;
  hasBias: boolean;
}

/** A float vector (norm weight) held as f32. */
export interface VectorPlan {
  name: string;
  entry: TensorEntry;
}

export interface LayerPlan {
  inputNorm: VectorPlan;
  postNorm: VectorPlan;
  qkv: LinearPlan;
  o: LinearPlan;
  gateUp: LinearPlan;
  down: LinearPlan;
}

/** GPU bytes by purpose. */
export interface MemoryPlan {
  /** Packed weights, norms and biases (what the checkpoint's weights occupy on the GPU). */
  weights: number;
  /** Keys and values for `maxSeq` positions, float32. */
  kvCache: number;
  /** Activations, logits, RoPE tables and the prefill work area. */
  activations: number;
  total: number;
  /** The biggest single buffer (WebGPU limits each buffer and binding). */
  largest: { name: string; bytes: number };
}

export interface LMPlan {
  config: LlamaConfig;
  quant: QuantizationConfig | null;
  embed: LinearPlan;
  /** Null when tied to the embedding. */
  lmHead: LinearPlan | null;
  layers: LayerPlan[];
  norm: VectorPlan;
  maxSeq: number;
  prefillChunk: number;
  memory: MemoryPlan;
}

/** Options of {@link planLM}. */
export interface PlanOptions {
  dtype?: HoldDType;
  /** Longest sequence (prompt + answer) the KV cache holds; default min(max_position_embeddings, 2048). */
  maxSeq?: number;
  /** Prompt positions per prefill pass (its work area scales with it); default 64. */
  prefillChunk?: number;
}

function floatFormat(dtype: DType, hold: HoldDType, name: string): PackedFormat {
  if (dtype === 'F16') return 'f16';
  if (dtype === 'BF16') return 'bf16';
  if (dtype === 'F32') return hold === 'auto' ? 'f32' : hold;
  throw new Error(`weight "${name}" is ${dtype}; streamed loading holds F32, F16, BF16 or quantized (QUANT-LAYOUT.md) weights`);
}

function need(entries: Map<string, TensorEntry>, name: string, shape?: number[]): TensorEntry {
  const e = entries.get(name);
  if (!e) throw new Error(`missing weight "${name}" in the checkpoint`);
  if (shape && (e.shape.length !== shape.length || e.shape.some((d, i) => d !== shape[i]))) {
    throw new Error(`weight "${name}" has shape [${e.shape.join(', ')}], expected [${shape.join(', ')}]`);
  }
  return e;
}

/** Plans one GPU weight from stored modules of `[rows_i, K]` stacked by rows. */
function planLinear(
  entries: Map<string, TensorEntry>,
  modules: { prefix: string; rows: number; bias: boolean }[],
  K: number,
  quant: QuantizationConfig | null,
  hold: HoldDType,
): LinearPlan {
  const name = modules.map((m) => m.prefix).join(' | ');
  const parts: LinearPart[] = [];
  let format: PackedFormat | null = null;
  let groupSize = 0;
  let sourceDType: DType | null = null;
  let anyZeros = false;
  for (const m of modules) {
    const part: LinearPart = { prefix: m.prefix, rows: m.rows };
    let f: PackedFormat;
    if (entries.has(`${m.prefix}.qweight`)) {
      if (!quant) throw new Error(`"${m.prefix}.qweight" is quantized, but config.json has no quantization_config`);
      const G = quant.groupSize;
      const nBlocks = Math.ceil(K / G);
      f = quant.bits === 4 ? 'q4' : 'q8';
      part.qweight = need(entries, `${m.prefix}.qweight`, [m.rows, nBlocks, (G * quant.bits) / 8]);
      part.scales = need(entries, `${m.prefix}.scales`, [m.rows, nBlocks]);
      if (part.scales.dtype !== 'F16') throw new Error(`"${m.prefix}.scales" is ${part.scales.dtype}, QUANT-LAYOUT.md stores F16`);
      if (entries.has(`${m.prefix}.qzeros`)) {
        part.qzeros = need(entries, `${m.prefix}.qzeros`, [m.rows, quant.bits === 4 ? Math.ceil(nBlocks / 2) : nBlocks]);
        anyZeros = true;
      }
      groupSize = G;
    } else {
      part.weight = need(entries, `${m.prefix}.weight`, [m.rows, K]);
      f = floatFormat(part.weight.dtype, hold, part.weight.name);
      if (sourceDType && sourceDType !== part.weight.dtype) {
        throw new Error(`${name}: fused modules are stored in different dtypes (${sourceDType}, ${part.weight.dtype})`);
      }
      sourceDType = part.weight.dtype;
    }
    if (format && format !== f) throw new Error(`${name}: fused modules are held in different formats (${format}, ${f}); quantize them alike`);
    format = f;
    if (m.bias) part.bias = need(entries, `${m.prefix}.bias`, [m.rows]);
    parts.push(part);
  }
  const N = modules.reduce((s, m) => s + m.rows, 0);
  const layout = packedLayout(format!, N, K, { groupSize: isQuantized(format!) ? groupSize : undefined, hasZeros: anyZeros, name });
  return { name, layout, parts, sourceDType: isQuantized(format!) ? null : sourceDType, hasBias: modules.some((m) => m.bias) };
}

/**
 * Plans a model. Throws naming the weight at fault when a tensor is missing or mis-shaped, or when fused
 * projections (q/k/v, gate/up) are stored in formats that cannot share one packed weight.
 */
export function planLM(config: LlamaConfig, entries: Map<string, TensorEntry>, opts: PlanOptions = {}): LMPlan {
  const quant = parseQuantizationConfig(config.raw, 'config.json');
  const hold = opts.dtype ?? 'auto';
  const { hiddenSize: D, intermediateSize: F, numAttentionHeads: H, numKeyValueHeads: KVH, headDim: hd, vocabSize: V } = config;
  const lin = (mods: { prefix: string; rows: number; bias: boolean }[], K: number) => planLinear(entries, mods, K, quant, hold);
  const vec = (name: string, n: number): VectorPlan => ({ name, entry: need(entries, name, [n]) });
  const layers: LayerPlan[] = [];
  for (let i = 0; i < config.numHiddenLayers; i++) {
    const p = `model.layers.${i}`;
    const a = `${p}.self_attn`;
    const m = `${p}.mlp`;
    layers.push({
      inputNorm: vec(`${p}.input_layernorm.weight`, D),
      postNorm: vec(`${p}.post_attention_layernorm.weight`, D),
      qkv: lin([
        { prefix: `${a}.q_proj`, rows: H * hd, bias: config.qkvBias },
        { prefix: `${a}.k_proj`, rows: KVH * hd, bias: config.qkvBias },
        { prefix: `${a}.v_proj`, rows: KVH * hd, bias: config.qkvBias },
      ], D),
      o: lin([{ prefix: `${a}.o_proj`, rows: D, bias: config.oBias }], H * hd),
      gateUp: lin([
        { prefix: `${m}.gate_proj`, rows: F, bias: config.mlpBias },
        { prefix: `${m}.up_proj`, rows: F, bias: config.mlpBias },
      ], D),
      down: lin([{ prefix: `${m}.down_proj`, rows: D, bias: config.mlpBias }], F),
    });
  }
  const embed = lin([{ prefix: 'model.embed_tokens', rows: V, bias: false }], D);
  const hasHead = entries.has('lm_head.weight') || entries.has('lm_head.qweight');
  if (!hasHead && !config.tieWordEmbeddings) throw new Error('missing weight "lm_head.weight" (and tie_word_embeddings is not set)');
  const lmHead = hasHead ? lin([{ prefix: 'lm_head', rows: V, bias: false }], D) : null;
  const maxSeq = Math.max(1, Math.floor(opts.maxSeq ?? Math.min(config.maxPositionEmbeddings, 2048)));
  const prefillChunk = Math.max(1, Math.floor(opts.prefillChunk ?? 64));
  const plan: LMPlan = { config, quant, embed, lmHead, layers, norm: vec('model.norm.weight', D), maxSeq, prefillChunk, memory: null! };
  plan.memory = memoryOf(plan);
  return plan;
}

/** Every GPU weight of a plan with its name, for accounting and upload. */
export function planLinears(plan: LMPlan): LinearPlan[] {
  const out = [plan.embed];
  for (const l of plan.layers) out.push(l.qkv, l.o, l.gateUp, l.down);
  if (plan.lmHead) out.push(plan.lmHead);
  return out;
}

function memoryOf(plan: LMPlan): MemoryPlan {
  const c = plan.config;
  const { hiddenSize: D, intermediateSize: F, numAttentionHeads: H, numKeyValueHeads: KVH, headDim: hd, vocabSize: V } = c;
  let largest = { name: '', bytes: 0 };
  const note = (name: string, bytes: number) => {
    if (bytes > largest.bytes) largest = { name, bytes };
    return bytes;
  };
  let weights = 0;
  for (const l of planLinears(plan)) {
    weights += packedBytes(l.layout);
    note(l.name, 4 * l.layout.N * l.layout.rowWords);
    if (l.hasBias) weights += 4 * l.layout.N;
  }
  weights += 4 * D * (2 * plan.layers.length + 1);
  const kvLayer = KVH * plan.maxSeq * hd * 4;
  const kvCache = 2 * plan.layers.length * kvLayer;
  note('KV cache of one layer', kvLayer);
  const qkv = (H + 2 * KVH) * hd;
  const C = plan.prefillChunk;
  const activations = 4 * (
    D + qkv + H * hd + F + note('logits', 4 * V) / 4 + 16 + // decode
    C * (2 * D + qkv + H * hd + 3 * F) + C + // prefill work area and ids
    plan.maxSeq * hd // RoPE cos and sin
  );
  return { weights, kvCache, activations, total: weights + kvCache + activations, largest };
}

/** The device limits a plan must respect. */
export interface FitLimits {
  maxBufferSize: number;
  maxStorageBufferBindingSize: number;
  /** Optional cap on all GPU memory the model may take (the page can set one; WebGPU does not report free memory). */
  budgetBytes?: number;
}

/** Raised before loading when a model cannot fit; the message carries the numbers and what to do. */
export class ModelTooLargeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ModelTooLargeError';
  }
}

/** GB/MB with one decimal for messages. */
export function formatGpuBytes(n: number): string {
  return n >= 1e9 ? `${(n / 1e9).toFixed(2)} GB` : `${(n / 1e6).toFixed(1)} MB`;
}

/** Rough bytes of the same model's weights at int4 (group 32, asymmetric) and f16, for the advice. */
function alternatives(plan: LMPlan): { int4: number; f16: number } {
  let params = 0;
  for (const l of planLinears(plan)) params += l.layout.N * l.layout.K;
  return { int4: params * (0.5 + 2 / 32 + 0.5 / 32), f16: params * 2 };
}

/**
 * Checks a plan against the device: no buffer above the per-buffer and per-binding limits, and the total under
 * the budget when one is given.
 *
 * @throws ModelTooLargeError with the sizes, the limit at fault and the smaller dtypes that would fit.
 */
export function checkFits(plan: LMPlan, limits: FitLimits): void {
  const m = plan.memory;
  const perBuffer = Math.min(limits.maxBufferSize, limits.maxStorageBufferBindingSize);
  const alt = alternatives(plan);
  const advice = () => {
    const fmts = new Set(planLinears(plan).map((l) => l.layout.format));
    const tips: string[] = [];
    if (!fmts.has('q4')) tips.push(`int4 (\`multi-token quantize --bits 4\`): about ${formatGpuBytes(alt.int4)} of weights`);
    if (fmts.has('f32')) tips.push(`f16 (load with dtype "f16"): about ${formatGpuBytes(alt.f16)}`);
    tips.push(`a shorter context (maxSeq ${plan.maxSeq} → ${Math.max(256, plan.maxSeq >> 2)} saves ${formatGpuBytes(m.kvCache * 0.75)} of KV cache)`);
    return `Use a smaller dtype: ${tips.join('; or ')}.`;
  };
  const sizes = `weights ${formatGpuBytes(m.weights)} + KV cache ${formatGpuBytes(m.kvCache)} (${plan.maxSeq} positions) + activations ${formatGpuBytes(m.activations)} = ${formatGpuBytes(m.total)}`;
  if (m.largest.bytes > perBuffer) {
    throw new ModelTooLargeError(
      `the model does not fit this GPU: ${m.largest.name} needs one buffer of ${formatGpuBytes(m.largest.bytes)}, above the adapter's ` +
        `limit of ${formatGpuBytes(perBuffer)} per buffer (maxBufferSize ${formatGpuBytes(limits.maxBufferSize)}, ` +
        `maxStorageBufferBindingSize ${formatGpuBytes(limits.maxStorageBufferBindingSize)}); in all: ${sizes}. ${advice()}`,
    );
  }
  if (limits.budgetBytes !== undefined && m.total > limits.budgetBytes) {
    throw new ModelTooLargeError(`the model does not fit the GPU memory budget of ${formatGpuBytes(limits.budgetBytes)}: ${sizes}. ${advice()}`);
  }
}
