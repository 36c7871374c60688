/**
 * The `quantization_config` section of a quantized checkpoint's config.json, and which weights it covers.
 * See docs/quantization.md for the contract shared by the Node engine and the WGSL kernels.
 */
import { GROUP_SIZES, type QuantBits } from './nbits.js';

/** `config.json` → `quantization_config` for `quant_method: "matmul_nbits"`. */
export interface QuantizationConfig {
  quantMethod: 'matmul_nbits';
  bits: QuantBits;
  groupSize: number;
  /** True when no `qzeros` are stored (zero point 2^(bits−1)). */
  sym: boolean;
  /** Module names left in float (`lm_head`, …), as in Hugging Face's quantization configs. */
  modulesNotToConvert: string[];
}

/** The JSON form written into config.json. */
export function quantizationConfigJSON(q: QuantizationConfig): Record<string, unknown> {
  return {
    quant_method: q.quantMethod,
    bits: q.bits,
    group_size: q.groupSize,
    sym: q.sym,
    modules_not_to_convert: q.modulesNotToConvert,
  };
}

/**
 * Reads `quantization_config` from a config.json object: null when absent; a clear error (naming `where`) for a
 * method or field this project cannot load (e.g. GPTQ/AWQ/bitsandbytes checkpoints).
 */
export function parseQuantizationConfig(config: Record<string, unknown>, where: string): QuantizationConfig | null {
  const q = config.quantization_config;
  if (q === undefined || q === null) return null;
  if (typeof q !== 'object' || Array.isArray(q)) throw new Error(`${where}: quantization_config is not an object`);
  const o = q as Record<string, unknown>;
  if (o.quant_method !== 'matmul_nbits') {
    throw new Error(
      `${where}: quantization_config.quant_method is ${JSON.stringify(o.quant_method)}; this project loads "matmul_nbits" ` +
        `(written by \`multi-token quantize\`). Quantize the float checkpoint with it instead, or load the float one with --dtype int4|int8.`,
    );
  }
  const bits = o.bits;
  if (bits !== 4 && bits !== 8) throw new Error(`${where}: quantization_config.bits must be 4 or 8, got ${JSON.stringify(bits)}`);
  const groupSize = o.group_size;
  if (typeof groupSize !== 'number' || !(GROUP_SIZES as readonly number[]).includes(groupSize)) {
    throw new Error(`${where}: quantization_config.group_size must be one of ${GROUP_SIZES.join(', ')}, got ${JSON.stringify(groupSize)}`);
  }
  const skip = o.modules_not_to_convert ?? [];
  if (!Array.isArray(skip) || !skip.every((s) => typeof s === 'string')) {
    throw new Error(`${where}: quantization_config.modules_not_to_convert must be a list of module names`);
  }
  return { quantMethod: 'matmul_nbits', bits, groupSize, sym: o.sym === true, modulesNotToConvert: skip as string[] };
}

/** The Linear layers of a Llama-family decoder: what `multi-token quantize` converts. */
const DECODER_LINEAR = /^model\.layers\.\d+\.(self_attn\.[qkvo]_proj|mlp\.(gate|up|down)_proj)$/;

/**
 * Whether the Linear module `module` (e.g. `model.layers.0.mlp.up_proj`, `lm_head`) is quantized under the
 * writer's policy: every decoder Linear; `lm_head` only when asked (it is the most sensitive layer, and for
 * Qwen2-sized vocabularies tied to the embedding table). Embeddings, norms and biases never are.
 */
export function isQuantizedModule(module: string, opts: { lmHead?: boolean } = {}): boolean {
  if (module === 'lm_head') return opts.lmHead === true;
  return DECODER_LINEAR.test(module);
}
