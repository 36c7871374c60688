/**
 * Tiny Llama-family checkpoints in memory for the WebGPU engine's tests: float (F32/F16/BF16) or quantized in
 * the QUANT-LAYOUT.md layout by the fixture quantizer, together with the float32 weights they stand for (the
 * quantized ones dequantized), so the tfjs model built from those is the reference the engine must match.
 */
import { parseLlamaConfig, type LlamaConfig } from '../../src/lm/config.js';
import { randomLlamaWeights, tinyLlamaConfigJSON, type TinyLlamaOptions } from '../../src/tiny/tiny-llama.js';
import { float32ToRaw, rawToFloat32, serializeSafetensors, type RawTensor } from '../../src/io/safetensors.js';
import { dequantize, packQuantized, packedLayout } from '../../kernels/packed-weight.js';
import { quantizeWeight } from './quantize-fixture.js';

export interface TinyQuantizedOptions extends Partial<TinyLlamaOptions> {
  arch: TinyLlamaOptions['arch'];
  /** Quantize the linears (null: keep float). */
  bits: 4 | 8 | null;
  groupSize?: number;
  sym?: boolean;
  /** Also quantize the embedding (and lm_head). */
  quantizeEmbeddings?: boolean;
  /** Stored dtype of float tensors. */
  dtype?: 'F32' | 'F16' | 'BF16';
  seed?: number;
}

export interface TinyQuantized {
  config: LlamaConfig;
  /** config.json and model.safetensors. */
  files: Map<string, Uint8Array>;
  /** float32 weights under HF names: the dequantized values of what was stored. */
  reference: Map<string, RawTensor>;
}

const LINEARS = /\.(q_proj|k_proj|v_proj|o_proj|gate_proj|up_proj|down_proj)\.weight$/;

export function tinyQuantized(o: TinyQuantizedOptions): TinyQuantized {
  const json = tinyLlamaConfigJSON({ vocabSize: 96, eosTokenId: 1, hiddenSize: 64, intermediateSize: 96, numHiddenLayers: 2, numAttentionHeads: 4, numKeyValueHeads: 2, ...o });
  const G = o.groupSize ?? 32;
  const sym = o.sym ?? false;
  if (o.bits) {
    json.quantization_config = { quant_method: 'matmul_nbits', bits: o.bits, group_size: G, sym, modules_not_to_convert: o.quantizeEmbeddings ? [] : ['model.embed_tokens', 'lm_head'] };
  }
  const config = parseLlamaConfig(json);
  const weights = randomLlamaWeights(config, o.seed ?? 7);
  const stored = new Map<string, RawTensor>();
  const reference = new Map<string, RawTensor>();
  const dtype = o.dtype ?? 'F32';
  for (const [name, t] of weights) {
    const values = t.dataSync() as Float32Array;
    t.dispose();
    const shape = t.shape as number[];
    const quantize = o.bits && (LINEARS.test(name) || (o.quantizeEmbeddings && /^(model\.embed_tokens|lm_head)\.weight$/.test(name)));
    if (quantize) {
      const [N, K] = shape;
      const q = quantizeWeight(values, N, K, o.bits!, G, sym);
      const prefix = name.slice(0, -'.weight'.length);
      stored.set(`${prefix}.qweight`, q.qweight);
      stored.set(`${prefix}.scales`, q.scales);
      if (q.qzeros) stored.set(`${prefix}.qzeros`, q.qzeros);
      const layout = packedLayout(o.bits === 4 ? 'q4' : 'q8', N, K, { groupSize: G, hasZeros: !sym });
      reference.set(name, float32ToRaw(dequantize(packQuantized(layout, q.qweight.data, q.scales.data, q.qzeros?.data ?? null)), shape, 'F32'));
    } else {
      const raw = float32ToRaw(values, shape, dtype);
      stored.set(name, raw);
      reference.set(name, float32ToRaw(rawToFloat32(raw), shape, 'F32'));
    }
  }
  const files = new Map<string, Uint8Array>([
    ['config.json', new TextEncoder().encode(JSON.stringify(json))],
    ['model.safetensors', serializeSafetensors(stored, { format: 'pt' })],
  ]);
  return { config, files, reference };
}
