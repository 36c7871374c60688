/**
 * Tiny Llama-family checkpoints in memory for the WebGPU engine's tests: float (F32/F16/BF16) or quantized as
 * `multi-token quantize` writes them (test/helpers/quantize-in-memory.ts), together with the float32 weights they
 * stand for (the quantized ones dequantized), so the tfjs model built from those is the reference the engine must
 * match.
 */
import { parseLlamaConfig, type LlamaConfig } from '../../src/lm/config.js';
import { randomLlamaWeights, tinyLlamaConfigJSON, type TinyLlamaOptions } from '../../src/tiny/tiny-llama.js';
import { float32ToRaw, rawToFloat32, serializeSafetensors, type RawTensor } from '../../src/io/safetensors.js';
import { quantizationConfigFor, quantizeTensors } from './quantize-in-memory.js';

export interface TinyQuantizedOptions extends Partial<TinyLlamaOptions> {
  arch: TinyLlamaOptions['arch'];
  /** Quantize the decoder Linears (null: keep float). */
  bits: 4 | 8 | null;
  groupSize?: number;
  sym?: boolean;
  /** Also quantize lm_head (`--lm_head`; with tied embeddings a quantized copy of the table, which stays float). */
  lmHead?: boolean;
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

export function tinyQuantized(o: TinyQuantizedOptions): TinyQuantized {
  const json = tinyLlamaConfigJSON({ vocabSize: 96, eosTokenId: 1, hiddenSize: 64, intermediateSize: 96, numHiddenLayers: 2, numAttentionHeads: 4, numKeyValueHeads: 2, ...o });
  const q = o.bits ? { bits: o.bits, groupSize: o.groupSize ?? 32, sym: o.sym ?? false, lmHead: o.lmHead } : null;
  if (q) json.quantization_config = quantizationConfigFor(q);
  const config = parseLlamaConfig(json);
  const float = new Map<string, RawTensor>();
  for (const [name, t] of randomLlamaWeights(config, o.seed ?? 7)) {
    float.set(name, float32ToRaw(t.dataSync() as Float32Array, t.shape as number[], o.dtype ?? 'F32'));
    t.dispose();
  }
  // A quantized lm_head of a tied model is a quantized copy of the embedding table.
  if (q?.lmHead && !float.has('lm_head.weight')) float.set('lm_head.weight', float.get('model.embed_tokens.weight')!);
  const { stored, reference } = q ? quantizeTensors(float, q) : { stored: float, reference: float };
  const widened = new Map([...reference].map(([k, v]) => [k, float32ToRaw(rawToFloat32(v), v.shape, 'F32')]));
  const files = new Map<string, Uint8Array>([
    ['config.json', new TextEncoder().encode(JSON.stringify(json))],
    ['model.safetensors', serializeSafetensors(stored, { format: 'pt' })],
  ]);
  return { config, files, reference: widened };
}
