/**
 * Tiny random BERT checkpoints in real Hugging Face format, laid out like a GTE model folder
 * (`thenlper/gte-*`): `config.json`, `model.safetensors` (with the unused pooler, as GTE ships it),
 * `tokenizer.json`, `tokenizer_config.json`. Python's `AutoModel.from_pretrained(dir)` and the project's
 * `BertEncoder.load` read the same folder.
 */
import { Rng } from '../util/rng.js';
import { float32ToRaw, serializeSafetensors, type RawTensor } from '../io/safetensors.js';
import { makeWordPieceTokenizer, wordPieceVocab } from './wordpiece-tokenizer.js';

/** Sizes of a tiny BERT. Defaults: hidden 32, 2 layers, 4 heads, 64-token context. */
export interface TinyBertOptions {
  hiddenSize?: number;
  layers?: number;
  heads?: number;
  intermediate?: number;
  /** Context length: `max_position_embeddings` and the tokenizer's `model_max_length`. Default 64. */
  maxPositions?: number;
  /** Tokenizer vocabulary cap. Default 400. */
  vocabSize?: number;
  /** Weight name prefix: `''` (GTE's layout) or `'bert.'` (a `BertFor…` checkpoint). Default `''`. */
  prefix?: '' | 'bert.';
  seed?: number;
}

function sizes(o: TinyBertOptions) {
  return {
    hiddenSize: o.hiddenSize ?? 32,
    layers: o.layers ?? 2,
    heads: o.heads ?? 4,
    intermediate: o.intermediate ?? 64,
    maxPositions: o.maxPositions ?? 64,
    vocabSize: wordPieceVocab({ vocabSize: o.vocabSize }).length,
  };
}

/** The `config.json` `BertModel.save_pretrained` writes, with the tiny sizes. */
export function tinyBertConfigJSON(o: TinyBertOptions = {}): Record<string, unknown> {
  const s = sizes(o);
  return {
    architectures: ['BertModel'],
    model_type: 'bert',
    vocab_size: s.vocabSize,
    hidden_size: s.hiddenSize,
    num_hidden_layers: s.layers,
    num_attention_heads: s.heads,
    intermediate_size: s.intermediate,
    hidden_act: 'gelu',
    hidden_dropout_prob: 0.1,
    attention_probs_dropout_prob: 0.1,
    max_position_embeddings: s.maxPositions,
    type_vocab_size: 2,
    initializer_range: 0.02,
    layer_norm_eps: 1e-12,
    pad_token_id: 0,
    position_embedding_type: 'absolute',
    classifier_dropout: null,
    use_cache: true,
    torch_dtype: 'float32',
    transformers_version: '4.44.0',
  };
}

/**
 * Random weights under HF names. Scales are chosen so activations stay O(1) through the layers (BERT's own
 * 0.02 init would make a tiny model's output nearly constant); LayerNorm weights are not all ones so a
 * reference comparison exercises them.
 */
export function randomBertWeights(o: TinyBertOptions = {}): Map<string, RawTensor> {
  const s = sizes(o);
  const p = o.prefix ?? '';
  const rng = new Rng(o.seed ?? 0);
  const out = new Map<string, RawTensor>();
  const put = (name: string, shape: number[], f: () => number) => {
    const n = shape.reduce((a, b) => a * b, 1);
    out.set(p + name, float32ToRaw(Float32Array.from({ length: n }, f), shape, 'F32'));
  };
  const normal = (scale: number, mean = 0) => () => mean + rng.normal() * scale;
  const h = s.hiddenSize;
  const linear = (name: string, outF: number, inF: number) => {
    put(`${name}.weight`, [outF, inF], normal(1 / Math.sqrt(inF)));
    put(`${name}.bias`, [outF], normal(0.05));
  };
  const norm = (name: string) => {
    put(`${name}.weight`, [h], normal(0.1, 1));
    put(`${name}.bias`, [h], normal(0.1));
  };
  put('embeddings.word_embeddings.weight', [s.vocabSize, h], normal(1));
  put('embeddings.position_embeddings.weight', [s.maxPositions, h], normal(0.5));
  put('embeddings.token_type_embeddings.weight', [2, h], normal(0.5));
  norm('embeddings.LayerNorm');
  for (let i = 0; i < s.layers; i++) {
    const l = `encoder.layer.${i}`;
    for (const proj of ['query', 'key', 'value']) linear(`${l}.attention.self.${proj}`, h, h);
    linear(`${l}.attention.output.dense`, h, h);
    norm(`${l}.attention.output.LayerNorm`);
    linear(`${l}.intermediate.dense`, s.intermediate, h);
    linear(`${l}.output.dense`, h, s.intermediate);
    norm(`${l}.output.LayerNorm`);
  }
  linear('pooler.dense', h, h);
  return out;
}

/** A complete tiny GTE-style folder, file name → bytes. Deterministic from `seed` (the reference fixture relies on it). */
export function makeTinyBert(o: TinyBertOptions = {}): Map<string, Uint8Array> {
  const enc = new TextEncoder();
  const s = sizes(o);
  const tok = makeWordPieceTokenizer({ vocabSize: o.vocabSize, modelMaxLength: s.maxPositions });
  return new Map([
    ['config.json', enc.encode(JSON.stringify(tinyBertConfigJSON(o), null, 2) + '\n')],
    ['model.safetensors', serializeSafetensors(randomBertWeights(o), { format: 'pt' })],
    ['tokenizer.json', enc.encode(tok['tokenizer.json'])],
    ['tokenizer_config.json', enc.encode(tok['tokenizer_config.json'])],
  ]);
}
