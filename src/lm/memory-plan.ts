/**
 * How much memory a model will take once loaded (per `--dtype`), computed from the checkpoint headers before a
 * byte of weights is read, and the check that refuses to start a load that cannot fit, with the numbers and a
 * way out. Hosts report their budget through `configurePlatform({ memoryBudget })` (Node: MemAvailable and the
 * cgroup limit; the wasm heap's 4 GB for what tfjs holds).
 */
import type { LazyWeights } from '../io/lazy-weights.js';
import { shapeSize } from '../io/safetensors.js';
import type { WeightDType } from '../nn/frozen-weight.js';
import { WEIGHT_DTYPES } from '../nn/frozen-weight.js';

/** Memory a platform can give a model: total bytes and what limits it (for the error message). */
export interface MemoryBudget {
  /** Bytes the whole model may take. */
  bytes: number;
  /** e.g. "available RAM (MemAvailable)". */
  what: string;
  /** Bytes tfjs itself may hold (the wasm heap's 4 GiB), when smaller than `bytes`. */
  tfjsBytes?: number;
  tfjsWhat?: string;
}

let provider: (() => MemoryBudget | null) | null = null;

/** Installs the platform's budget; only `configurePlatform({ memoryBudget })` (src/platform.ts) calls it. */
export function setMemoryBudgetProvider(p: (() => MemoryBudget | null) | null): void {
  provider = p;
}

/** The platform's current budget, or null when it does not say. */
export function memoryBudget(): MemoryBudget | null {
  return provider?.() ?? null;
}

/** The Linear modules of a Llama-family checkpoint: name → `[out, in]` (and whether it is stored quantized). */
export interface LinearPlan {
  module: string;
  n: number;
  k: number;
  quantized: boolean;
  /** Decoder Linear (follows `--dtype`), or lm_head (kept as stored under int8/int4). */
  decoder: boolean;
}

/** Where the loaded model's bytes go. */
export interface MemoryEstimate {
  /** Everything. */
  total: number;
  /** The part tfjs holds (norms, biases; the embedding table and Linears too when no engine holds them). */
  tfjs: number;
  /** Parameters, for messages. */
  params: number;
}

const GROUP = 32;

/** Bytes one `[n, k]` Linear weight takes in memory held as `dtype` (codes + f32 scales + zero points). */
export function linearBytes(n: number, k: number, dtype: WeightDType): number {
  const blocks = n * Math.ceil(k / GROUP);
  switch (dtype) {
    case 'f32':
      return n * k * 4;
    case 'f16':
    case 'bf16':
      return n * k * 2;
    case 'int8':
      return n * k + blocks * 5;
    case 'int4':
      return (n * k) / 2 + blocks * 4.5;
  }
}

/** The dtype a Linear ends up held as, for the model-wide `dtype`. */
export function linearDType(l: LinearPlan, dtype: WeightDType): WeightDType {
  if (l.decoder || dtype === 'f16' || dtype === 'bf16' || dtype === 'f32') return dtype;
  return l.quantized ? dtype : 'f32'; // lm_head under int8/int4: as stored
}

/** How an engine holds the token embedding table: f32, as stored (16-bit, for lookups only), or int8. */
export type TableDType = 'f32' | 'f16' | 'bf16' | 'int8';

/**
 * How an engine holds the embedding table, given the model-wide `dtype`, whether the table is also the output
 * projection (tied embeddings and no `lm_head.*` in the checkpoint) and the table's stored safetensors dtype.
 *
 * - Used for lookups only: as stored when F16/BF16 (lookups widen rows exactly), else f32 — lossless either way.
 * - Also the tied output projection under int8/int4: **int8, group 32** (MatMulNBits), one copy serving both the
 *   lookups (rows dequantized) and the head. Why: at f32 the table is Qwen2-1.5B's largest tensor (0.93 GB of
 *   its int4 model's 1.7 GB) and the head's matvec streams all of it per token; int8 is a quarter of that and,
 *   unlike int4, moves the logits by about what int8 activations in the other Linears already do (see
 *   docs/quantization.md). A checkpoint quantized with `--lm_head` has its own `lm_head.qweight`, so its table is
 *   lookup-only.
 * - Otherwise (the tied head under f32/f16/bf16): f32, so the head's product stays as accurate as the weights asked.
 */
export function tableDType(dtype: WeightDType, tiedHead: boolean, stored: string): TableDType {
  if (!tiedHead) return stored === 'F16' ? 'f16' : stored === 'BF16' ? 'bf16' : 'f32';
  return dtype === 'int8' || dtype === 'int4' ? 'int8' : 'f32';
}

/** Bytes the table takes held as `t` (int8: the codes kept for lookups plus onnxruntime's packed copy). */
export function tableBytes(rows: number, cols: number, t: TableDType): number {
  if (t === 'f32') return rows * cols * 4;
  if (t === 'int8') return 2 * linearBytes(rows, cols, 'int8');
  return rows * cols * 2;
}

/**
 * Estimated bytes of the loaded model. `engine` says whether frozen Linears are held outside tfjs (Node's
 * onnxruntime engine); without one every weight is a float32 tfjs tensor.
 */
export function estimateMemory(weights: LazyWeights, linears: LinearPlan[], dtype: WeightDType, engine: boolean): MemoryEstimate {
  const linearParts = new Set<string>();
  let frozen = 0;
  let tfjs = 0;
  let params = 0;
  for (const l of linears) {
    for (const suffix of ['weight', 'qweight', 'scales', 'qzeros']) linearParts.add(`${l.module}.${suffix}`);
    params += l.n * l.k;
    if (engine) frozen += linearBytes(l.n, l.k, linearDType(l, dtype));
    else tfjs += l.n * l.k * 4;
  }
  for (const name of weights.keys()) {
    if (linearParts.has(name)) continue;
    const n = shapeSize(weights.info(name).shape);
    params += n;
    // With an engine the embedding table is held there (see tableDType), outside tfjs memory.
    if (engine && name === 'model.embed_tokens.weight') {
      const info = weights.info(name);
      const tied = !linears.some((l) => l.module === 'lm_head');
      frozen += tableBytes(info.shape[0] ?? 1, n / (info.shape[0] || 1), tableDType(dtype, tied, info.dtype));
    } else tfjs += n * 4;
  }
  return { total: tfjs + frozen, tfjs, params };
}

/** Bytes for messages: `6.17 GB`, `3.6 MB`, `12 kB`. */
export function formatBytes(b: number): string {
  if (b >= 1e9) return `${(b / 1e9).toFixed(2)} GB`;
  if (b >= 1e6) return `${(b / 1e6).toFixed(1)} MB`;
  return `${Math.round(b / 1e3)} kB`;
}
const gb = formatBytes;

/**
 * Throws before loading when the model cannot fit `budget`: names the model's size at `dtype`, the limit and
 * what limits it, and the dtypes that would fit (or that none does).
 */
export function checkFits(
  what: string,
  weights: LazyWeights,
  linears: LinearPlan[],
  dtype: WeightDType,
  engine: boolean,
  budget: MemoryBudget | null,
): MemoryEstimate {
  const est = estimateMemory(weights, linears, dtype, engine);
  if (!budget) return est;
  const tfjsLimit = budget.tfjsBytes ?? Infinity;
  if (est.total <= budget.bytes && est.tfjs <= tfjsLimit) return est;
  const fits = WEIGHT_DTYPES.filter((d) => d !== 'bf16').map((d) => ({ d, e: estimateMemory(weights, linears, d, engine) }))
    .filter(({ e }) => e.total <= budget.bytes && e.tfjs <= tfjsLimit);
  const params = est.params >= 1e9 ? `${(est.params / 1e9).toFixed(2)} B parameters` : `${(est.params / 1e6).toFixed(2)} M parameters`;
  const over = est.total > budget.bytes
    ? `needs ${gb(est.total)} as ${dtype} (${params}), but ${budget.what} is ${gb(budget.bytes)}`
    : `keeps ${gb(est.tfjs)} in tfjs memory as ${dtype} (${params}), past ${budget.tfjsWhat ?? 'its limit'} of ${gb(tfjsLimit)}`;
  const smallest = estimateMemory(weights, linears, 'int4', engine);
  const wayOut = fits.length
    ? `load it with ${fits.map(({ d, e }) => `--dtype ${d} (≈${gb(e.total)})`).join(' or ')}` +
      (fits.some(({ d }) => d === 'int4' || d === 'int8') ? ', or quantize it once with `multi-token quantize --bits 4|8`' : '')
    : smallest.tfjs > tfjsLimit && smallest.total <= budget.bytes
      ? `even as int4 the tfjs part (${engine ? 'norms, biases' : 'embedding table, norms'}: ${gb(smallest.tfjs)}) does not fit; use --backend cpu+onnxruntime, whose tensors live outside the wasm heap`
      : engine
        ? `even int4 (≈${gb(smallest.total)}) does not fit: use a machine with more memory, or a smaller model`
        : 'use the Node engine (wasm or cpu + onnxruntime), which holds weights outside tfjs memory as int4/int8/f16';
  throw new Error(`${what} ${over}; ${wayOut}`);
}
