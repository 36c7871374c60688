/**
 * `make-tiny` at real sizes (Qwen2-0.5B: 1.4 GB+ in f32, Qwen2-1.5B: ~6 GB): the same config, tokenizer and
 * Hugging Face layout as the in-memory path (src/tiny/tiny-lmm.ts), but every weight is generated when the writer
 * reaches it and streamed to disk, so memory stays at one tensor. Weights may be written as F32, BF16 (what real
 * checkpoints ship) or F16, sharded like `save_pretrained` (2 GB shards + index).
 *
 * Each tensor draws from its own generator, seeded from (seed, name), so the file can be written in safetensors
 * order; the values therefore differ from the in-memory path's for the same seed (same distribution).
 */
import { float32ToHalfBytes } from '../../src/io/half-float.js';
import type { DType } from '../../src/io/safetensors.js';
import { parseLlamaConfig, type LlamaConfig } from '../../src/lm/config.js';
import { Rng } from '../../src/util/rng.js';
import { CHAT_TEMPLATES } from '../../src/tiny/chat-templates.js';
import { makeTinyTokenizer } from '../../src/tiny/make-tokenizer.js';
import { tinyLlamaConfigJSON } from '../../src/tiny/tiny-llama.js';
import type { TinyLMOptions } from '../../src/tiny/tiny-lmm.js';
import type { FileWriter } from '../atomic-write.js';
import { shardedSafetensorsFiles, specBytes, type StreamedTensor } from '../io/safetensors-write.js';

/** Parameters of the LM `o` describes (to decide between the in-memory and the streamed path). */
export function lmParameterCount(o: TinyLMOptions): number {
  const d = o.hiddenSize ?? 64;
  const f = o.intermediateSize ?? 128;
  const layers = o.numHiddenLayers ?? 2;
  const h = o.numAttentionHeads ?? 4;
  const kvh = o.numKeyValueHeads ?? 2;
  const hd = d / h;
  const v = o.vocabSize ?? 512;
  const tied = o.arch === 'qwen2';
  return v * d * (tied ? 1 : 2) + layers * (d * h * hd * 2 + 2 * d * kvh * hd + 3 * d * f + 2 * d) + d;
}

const DEFAULT_STYLE = { llama: 'llama3', mistral: 'mistral', qwen2: 'chatml' } as const;

function hashName(seed: number, name: string): number {
  let h = (seed ^ 0x9e3779b9) >>> 0;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/** The tensors of a random Llama-family model, each produced on demand. `std` as in randomLlamaWeights. */
function streamedWeights(config: LlamaConfig, seed: number, dtype: 'F32' | 'BF16' | 'F16', std = 0.2): StreamedTensor[] {
  const out: StreamedTensor[] = [];
  const bytes = (v: Float32Array) => (dtype === 'F32' ? new Uint8Array(v.buffer, v.byteOffset, v.byteLength) : float32ToHalfBytes(v, dtype));
  const normal = (name: string, shape: number[], scale: number) =>
    out.push({
      name, dtype: dtype as DType, shape,
      produce: () => {
        const rng = new Rng(hashName(seed, name));
        const v = new Float32Array(shape.reduce((a, b) => a * b, 1));
        for (let i = 0; i < v.length; i++) v[i] = rng.normal() * scale;
        return bytes(v);
      },
    });
  const ones = (name: string, n: number) => out.push({ name, dtype: dtype as DType, shape: [n], produce: () => bytes(new Float32Array(n).fill(1)) });
  const { hiddenSize: d, intermediateSize: f, numAttentionHeads: h, numKeyValueHeads: kvh, headDim: hd } = config;
  normal('model.embed_tokens.weight', [config.vocabSize, d], config.tieWordEmbeddings ? 0.3 : 1);
  for (let i = 0; i < config.numHiddenLayers; i++) {
    const p = `model.layers.${i}`;
    const proj = (name: string, n: number, k: number, bias: boolean) => {
      normal(`${p}.${name}.weight`, [n, k], std / Math.sqrt(k / 16));
      if (bias) normal(`${p}.${name}.bias`, [n], std);
    };
    proj('self_attn.q_proj', h * hd, d, config.qkvBias);
    proj('self_attn.k_proj', kvh * hd, d, config.qkvBias);
    proj('self_attn.v_proj', kvh * hd, d, config.qkvBias);
    proj('self_attn.o_proj', d, h * hd, config.oBias);
    proj('mlp.gate_proj', f, d, config.mlpBias);
    proj('mlp.up_proj', f, d, config.mlpBias);
    proj('mlp.down_proj', d, f, config.mlpBias);
    ones(`${p}.input_layernorm.weight`, d);
    ones(`${p}.post_attention_layernorm.weight`, d);
  }
  ones('model.norm.weight', d);
  if (!config.tieWordEmbeddings) normal('lm_head.weight', [config.vocabSize, d], std / Math.sqrt(d / 16));
  return out;
}

/**
 * The files of a real-size random LM: `config.json` (vocab_size as asked: rows past the tokenizer's own
 * vocabulary are padding, as in real Qwen2 checkpoints), a small trained tokenizer, and streamed weights.
 */
export function realSizeLMFiles(
  o: TinyLMOptions & { dtype?: 'F32' | 'BF16' | 'F16'; onProgress?: (bytes: number, total: number) => void },
): Map<string, Uint8Array | string | FileWriter> {
  const arch = o.arch ?? 'llama';
  const style = o.style ?? DEFAULT_STYLE[arch];
  // The built-in corpus supports only a small BPE vocabulary; real vocabularies are mostly padding here.
  const tok = makeTinyTokenizer({ style, vocabSize: Math.min(o.vocabSize ?? 512, 4096) });
  const tokJSON = JSON.parse(tok['tokenizer.json']) as { model: { vocab: Record<string, number> }; added_tokens: { id: number; content: string }[] };
  const tokVocab = Object.keys(tokJSON.model.vocab).length;
  const idOf = (t: string | undefined) => (t === undefined ? null : tokJSON.added_tokens.find((a) => a.content === t)?.id ?? null);
  const spec = CHAT_TEMPLATES[style];
  const raw = tinyLlamaConfigJSON({
    arch,
    vocabSize: Math.max(o.vocabSize ?? tokVocab, tokVocab),
    hiddenSize: o.hiddenSize,
    intermediateSize: o.intermediateSize,
    numHiddenLayers: o.numHiddenLayers,
    numAttentionHeads: o.numAttentionHeads,
    numKeyValueHeads: o.numKeyValueHeads,
    maxPositionEmbeddings: o.maxPositionEmbeddings,
    bosTokenId: idOf(spec.bos),
    eosTokenId: idOf(spec.eos) ?? 0,
    extra: { torch_dtype: { F32: 'float32', BF16: 'bfloat16', F16: 'float16' }[o.dtype ?? 'F32'] },
  });
  const config = parseLlamaConfig(raw);
  const files = new Map<string, Uint8Array | string | FileWriter>([
    ['config.json', JSON.stringify(raw, null, 2) + '\n'],
    ['generation_config.json', JSON.stringify({ bos_token_id: raw.bos_token_id, eos_token_id: raw.eos_token_id }, null, 2) + '\n'],
    ...Object.entries(tok),
  ]);
  const tensors = streamedWeights(config, o.seed ?? 0, o.dtype ?? 'F32', o.std);
  const total = tensors.reduce((sum, t) => sum + specBytes(t), 0);
  let done = 0;
  const reported = tensors.map((t) => ({
    ...t,
    produce: async () => {
      const bytes = await t.produce();
      done += bytes.byteLength;
      o.onProgress?.(done, total);
      return bytes;
    },
  }));
  for (const [k, v] of shardedSafetensorsFiles(reported, 2e9)) files.set(k, v);
  return files;
}
