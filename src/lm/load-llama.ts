/**
 * Loading a Llama-family LM from a checkpoint tensor by tensor, as `--dtype` asks: checks the model fits before
 * reading, reads each tensor on its own (embedding table first, while memory is lowest), and hands Linear
 * weights to the engine's placer (f32/f16 buffers or int8/int4 MatMulNBits in Node) so they never sit in tfjs
 * memory. Quantized checkpoints (docs/quantization.md) load the same way.
 */
import { tf, type Tensor } from '../tf.js';
import type { LazyWeights } from '../io/lazy-weights.js';
import { rawToTensor } from '../io/raw-tensor.js';
import type { RawTensor } from '../io/safetensors.js';
import { Linear } from '../nn/linear.js';
import { frozenWeightPlacer, type FrozenWeight, type WeightDType, type WeightSource } from '../nn/frozen-weight.js';
import { parseQuantizationConfig, type QuantizationConfig } from '../quant/config.js';
import { blobSize, blockCount, zeroRowBytes, type NBitsMatrix } from '../quant/nbits.js';
import { weightToFloat32 } from '../quant/weight-convert.js';
import type { LlamaConfig } from './config.js';
import { LlamaForCausalLM } from './llama.js';
import { checkFits, linearDType, memoryBudget, tableDType, type LinearPlan, type MemoryBudget } from './memory-plan.js';

export interface LoadLlamaOptions {
  /** How frozen Linear weights are held. Default: f32, or the checkpoint's bits when it is quantized. */
  dtype?: WeightDType;
  /** Full finetuning: every weight a trainable-capable tfjs variable (float32), no engine placement. */
  trainable?: boolean;
  /** LoRA/QLoRA training: gradients flow through the frozen weights. */
  gradients?: boolean;
  /** Group size when quantizing a float checkpoint at load (default 32). */
  groupSize?: number;
  /** Overrides the platform's memory budget (tests; `null` disables the check). */
  memoryBudget?: MemoryBudget | null;
  /** Called after each tensor with bytes read so far and in total. */
  onProgress?: (readBytes: number, totalBytes: number) => void;
  /** One-line notes (e.g. "no engine: int4 widened to f32"). */
  onNote?: (line: string) => void;
}

/** The Linear modules the config implies, with their shapes and whether the checkpoint stores them quantized. */
export function linearPlan(config: LlamaConfig, weights: LazyWeights): LinearPlan[] {
  const { hiddenSize: d, intermediateSize: f, numAttentionHeads: h, numKeyValueHeads: kvh, headDim: hd } = config;
  const out: LinearPlan[] = [];
  const add = (module: string, n: number, k: number, decoder: boolean) => out.push({ module, n, k, decoder, quantized: weights.has(`${module}.qweight`) });
  for (let i = 0; i < config.numHiddenLayers; i++) {
    const p = `model.layers.${i}`;
    add(`${p}.self_attn.q_proj`, h * hd, d, true);
    add(`${p}.self_attn.k_proj`, kvh * hd, d, true);
    add(`${p}.self_attn.v_proj`, kvh * hd, d, true);
    add(`${p}.self_attn.o_proj`, d, h * hd, true);
    add(`${p}.mlp.gate_proj`, f, d, true);
    add(`${p}.mlp.up_proj`, f, d, true);
    add(`${p}.mlp.down_proj`, d, f, true);
  }
  if (!config.tieWordEmbeddings || weights.has('lm_head.weight') || weights.has('lm_head.qweight')) add('lm_head', config.vocabSize, d, false);
  return out;
}

/** Reads `module`'s weight: a float tensor, or the three MatMulNBits tensors (checked against the contract). */
async function readLinear(weights: LazyWeights, l: LinearPlan, q: QuantizationConfig | null, where: string): Promise<WeightSource> {
  if (!l.quantized) {
    const raw = await weights.read(`${l.module}.weight`);
    if (raw.shape.length !== 2 || raw.shape[0] !== l.n || raw.shape[1] !== l.k) {
      throw new Error(`weight "${l.module}.weight" in ${where} has shape [${raw.shape}], expected [${l.n}, ${l.k}]`);
    }
    return { kind: 'float', raw };
  }
  if (!q) throw new Error(`${where}: "${l.module}.qweight" exists but config.json has no quantization_config`);
  const shape = { n: l.n, k: l.k, bits: q.bits, groupSize: q.groupSize };
  const nb = blockCount(shape);
  const expect = (raw: RawTensor, name: string, dtype: string, dims: number[]) => {
    if (raw.dtype !== dtype || raw.shape.join() !== dims.join()) {
      throw new Error(`"${l.module}.${name}" in ${where} is ${raw.dtype} [${raw.shape}], expected ${dtype} [${dims}] (int${q.bits}, group ${q.groupSize})`);
    }
    return raw.data;
  };
  const qweight = expect(await weights.read(`${l.module}.qweight`), 'qweight', 'U8', [l.n, nb, blobSize(shape)]);
  const s = expect(await weights.read(`${l.module}.scales`), 'scales', 'F16', [l.n, nb]);
  const scales = s.byteOffset % 2 === 0 ? new Uint16Array(s.buffer, s.byteOffset, s.byteLength / 2) : new Uint16Array(s.slice().buffer);
  let qzeros: Uint8Array | null = null;
  if (weights.has(`${l.module}.qzeros`)) qzeros = expect(await weights.read(`${l.module}.qzeros`), 'qzeros', 'U8', [l.n, zeroRowBytes(shape)]);
  const matrix: NBitsMatrix = { ...shape, qweight, scales, qzeros };
  return { kind: 'nbits', matrix };
}

/**
 * Loads the LM held in `weights` (its config parsed as `config`). Throws before reading any weight when the
 * model cannot fit (see memory-plan.ts).
 */
export async function loadLlamaWeights(config: LlamaConfig, weights: LazyWeights, opts: LoadLlamaOptions = {}): Promise<LlamaForCausalLM> {
  const where = weights.location;
  const q = parseQuantizationConfig(config.raw, `${where} config.json`);
  const dtype: WeightDType = opts.trainable ? 'f32' : (opts.dtype ?? (q ? (q.bits === 4 ? 'int4' : 'int8') : 'f32'));
  const placer = opts.trainable ? null : frozenWeightPlacer();
  const plan = linearPlan(config, weights);
  const budget = opts.memoryBudget === undefined ? memoryBudget() : opts.memoryBudget;
  checkFits(`the model in ${where}`, weights, plan, dtype, !!placer, budget);
  if (!placer && !opts.trainable && dtype !== 'f32') opts.onNote?.(`no engine holds ${dtype} weights on the ${tf.getBackend()} backend here: they are widened to f32`);

  const total = weights.keys().reduce((s, n) => s + weights.info(n).nbytes, 0);
  let read = 0;
  const tensors = new Map<string, Tensor>();
  const readTensor = async (name: string) => {
    const raw = await weights.read(name);
    tensors.set(name, rawToTensor(raw, name));
    read += raw.data.byteLength;
    opts.onProgress?.(read, total);
  };
  const linears = new Map<string, Linear>();
  const planned = new Set<string>(['model.embed_tokens.weight']);
  let embedding: FrozenWeight | undefined;
  try {
    // The table first: it is the largest single allocation, best made while little else is held. An engine holds
    // it outside tfjs, as tableDType says (the lookups and a tied output projection read it there); otherwise it
    // is a tfjs tensor.
    let embedRaw = await weights.read('model.embed_tokens.weight');
    const tied = !plan.some((l) => l.module === 'lm_head');
    const held = tableDType(dtype, tied, embedRaw.dtype);
    const placed = placer?.('model.embed_tokens', { kind: 'float', raw: embedRaw }, held, { gradients: opts.gradients ?? false, table: tied ? 'tied' : 'lookup' });
    if (placed?.gatherRows) embedding = placed;
    else {
      placed?.dispose();
      tensors.set('model.embed_tokens.weight', rawToTensor(embedRaw, 'model.embed_tokens.weight'));
    }
    read += embedRaw.data.byteLength;
    embedRaw = { ...embedRaw, data: new Uint8Array(0) }; // an async function's locals live to its end: let the bytes go
    opts.onProgress?.(read, total);
    for (const l of plan) {
      for (const s of ['weight', 'qweight', 'scales', 'qzeros', 'bias']) planned.add(`${l.module}.${s}`);
      const src = await readLinear(weights, l, q, where);
      for (const s of ['weight', 'qweight', 'scales', 'qzeros']) if (weights.has(`${l.module}.${s}`)) read += weights.info(`${l.module}.${s}`).nbytes;
      const held = linearDType(l, dtype);
      const frozen = placer?.(l.module, src, held, { gradients: opts.gradients ?? false, groupSize: opts.groupSize ?? q?.groupSize });
      const biasName = `${l.module}.bias`;
      const bias = weights.has(biasName) ? rawToTensor(await weights.read(biasName), biasName) : null;
      const w = frozen ?? tf.tensor2d(weightToFloat32(src), [l.n, l.k]);
      linears.set(l.module, new Linear(w, bias));
      bias?.dispose();
      if (!frozen) w.dispose?.();
      opts.onProgress?.(read, total);
    }
    for (const name of weights.keys()) {
      if (!tensors.has(name) && !planned.has(name)) await readTensor(name);
    }
    const getter = {
      has: (n: string) => tensors.has(n) || weights.has(n),
      get: (n: string, shape?: number[]) => {
        const t = tensors.get(n);
        if (!t) throw new Error(`missing weight "${n}" in ${where}`);
        if (shape && (t.shape.length !== shape.length || t.shape.some((x, i) => shape[i] !== -1 && shape[i] !== x))) {
          throw new Error(`weight "${n}" in ${where} has shape [${t.shape}], expected [${shape}]`);
        }
        return t;
      },
    };
    const model = LlamaForCausalLM.fromWeights(config, getter, (module, out, inp, bias) => {
      const l = linears.get(module);
      if (!l) throw new Error(`missing weight "${module}.weight" in ${where}`);
      if (l.outFeatures !== out || l.inFeatures !== inp) throw new Error(`"${module}" in ${where} is [${l.outFeatures}, ${l.inFeatures}], expected [${out}, ${inp}]`);
      if (bias !== !!l.bias) throw new Error(`"${module}" in ${where} ${bias ? 'lacks the bias its config implies' : 'has a bias its config does not expect'}`);
      linears.delete(module);
      return l;
    }, embedding);
    embedding = undefined;
    return model;
  } finally {
    for (const t of tensors.values()) t.dispose(); // the model's variables hold their own references to the data
    for (const l of linears.values()) l.dispose();
    embedding?.dispose(); // only when building the model failed
    weights.release();
  }
}
