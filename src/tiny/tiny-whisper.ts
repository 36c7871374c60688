/**
 * Tiny random Whisper checkpoints in real Hugging Face format (config.json, model.safetensors with HF names,
 * preprocessor_config.json), for tests and demos that must not download anything.
 */
import { Rng } from '../util/rng.js';
import { float32ToRaw, serializeSafetensors, type RawTensor } from '../io/safetensors.js';

/** Which Hugging Face class the weight names follow. */
export type TinyWhisperLayout =
  /** `WhisperForConditionalGeneration`: `model.encoder.*`, `model.decoder.*` (what openai/whisper-* ship). */
  | 'conditional-generation'
  /** `WhisperModel`: `encoder.*`, `decoder.*`. */
  | 'model'
  /** Encoder only (e.g. `WhisperForAudioClassification` without its head): `encoder.*`. */
  | 'encoder-only';

export interface TinyWhisperOptions {
  dModel?: number;
  /** Encoder layers (and decoder layers unless `decoderLayers` is given). */
  layers?: number;
  heads?: number;
  ffn?: number;
  numMelBins?: number;
  /**
   * Encoder positions; the feature extractor's window is `2 × maxSourcePositions` frames of 10 ms. 1500 is
   * every real Whisper (30 s). Smaller values give a shorter window (e.g. 50 → 1 s), which transformers.js's
   * `WhisperFeatureExtractor` honours through `n_samples` / `nb_max_frames` in preprocessor_config.json.
   */
  maxSourcePositions?: number;
  decoderLayers?: number;
  vocabSize?: number;
  maxTargetPositions?: number;
  layout?: TinyWhisperLayout;
  seed?: number;
}

type Resolved = Required<TinyWhisperOptions>;

function resolve(o: TinyWhisperOptions): Resolved {
  const layers = o.layers ?? 2;
  return {
    dModel: o.dModel ?? 32,
    layers,
    heads: o.heads ?? 2,
    ffn: o.ffn ?? 64,
    numMelBins: o.numMelBins ?? 80,
    maxSourcePositions: o.maxSourcePositions ?? 1500,
    decoderLayers: o.decoderLayers ?? layers,
    vocabSize: o.vocabSize ?? 64,
    maxTargetPositions: o.maxTargetPositions ?? 16,
    layout: o.layout ?? 'conditional-generation',
    seed: o.seed ?? 0,
  };
}

/** A `WhisperConfig` config.json with the fields (and defaults) real checkpoints carry. */
export function tinyWhisperConfigJSON(options: TinyWhisperOptions = {}): Record<string, unknown> {
  const o = resolve(options);
  // Real Whisper: eos = bos = pad = 50257, decoder start = 50258 (<|startoftranscript|>); same pattern here.
  const eos = o.vocabSize - 4;
  const architecture = {
    'conditional-generation': 'WhisperForConditionalGeneration',
    model: 'WhisperModel',
    'encoder-only': 'WhisperForAudioClassification',
  }[o.layout];
  return {
    architectures: [architecture],
    model_type: 'whisper',
    vocab_size: o.vocabSize,
    num_mel_bins: o.numMelBins,
    d_model: o.dModel,
    encoder_layers: o.layers,
    encoder_attention_heads: o.heads,
    encoder_ffn_dim: o.ffn,
    decoder_layers: o.decoderLayers,
    decoder_attention_heads: o.heads,
    decoder_ffn_dim: o.ffn,
    max_source_positions: o.maxSourcePositions,
    max_target_positions: o.maxTargetPositions,
    activation_function: 'gelu',
    scale_embedding: false,
    encoder_layerdrop: 0.0,
    decoder_layerdrop: 0.0,
    dropout: 0.0,
    attention_dropout: 0.0,
    activation_dropout: 0.0,
    init_std: 0.02,
    is_encoder_decoder: true,
    use_cache: true,
    bos_token_id: eos,
    eos_token_id: eos,
    pad_token_id: eos,
    decoder_start_token_id: eos + 1,
    begin_suppress_tokens: [eos],
    suppress_tokens: [],
    use_weighted_layer_sum: false,
    classifier_proj_size: 256,
    apply_spec_augment: false,
    median_filter_width: 7,
    torch_dtype: 'float32',
    transformers_version: '4.44.0',
  };
}

/** The `WhisperFeatureExtractor` preprocessor_config.json matching the model's window. */
export function tinyWhisperPreprocessorConfigJSON(options: TinyWhisperOptions = {}): Record<string, unknown> {
  const o = resolve(options);
  const frames = 2 * o.maxSourcePositions;
  const hop = 160;
  const rate = 16000;
  return {
    chunk_length: (frames * hop) / rate,
    feature_extractor_type: 'WhisperFeatureExtractor',
    feature_size: o.numMelBins,
    hop_length: hop,
    n_fft: 400,
    n_samples: frames * hop,
    nb_max_frames: frames,
    padding_side: 'right',
    padding_value: 0.0,
    processor_class: 'WhisperProcessor',
    return_attention_mask: false,
    sampling_rate: rate,
  };
}

/** Random Whisper weights (float32) under the names of `options.layout`, deterministic from `seed`. */
export function randomWhisperWeights(options: TinyWhisperOptions = {}): Map<string, RawTensor> {
  const o = resolve(options);
  const rng = new Rng(o.seed);
  const w = new Map<string, RawTensor>();
  const put = (name: string, shape: number[], f: () => number) => {
    const a = new Float32Array(shape.reduce((x, y) => x * y, 1));
    for (let i = 0; i < a.length; i++) a[i] = f();
    w.set(name, float32ToRaw(a, shape, 'F32'));
  };
  // Scaled so activations stay O(1) through the layers; norms perturbed so a wrong weight/bias shows.
  const matrix = (name: string, shape: number[], fanIn: number) => put(name, shape, () => (rng.normal() * 0.5) / Math.sqrt(fanIn));
  const vector = (name: string, n: number, scale = 0.1) => put(name, [n], () => rng.normal() * scale);
  const norm = (name: string, d: number) => {
    put(`${name}.weight`, [d], () => 1 + rng.normal() * 0.1);
    vector(`${name}.bias`, d);
  };
  const linear = (name: string, out: number, inp: number, bias = true) => {
    matrix(`${name}.weight`, [out, inp], inp);
    if (bias) vector(`${name}.bias`, out);
  };
  const attention = (name: string, d: number) => {
    linear(`${name}.q_proj`, d, d);
    linear(`${name}.k_proj`, d, d, false);
    linear(`${name}.v_proj`, d, d);
    linear(`${name}.out_proj`, d, d);
  };
  const { dModel: d, ffn } = o;
  const enc = o.layout === 'conditional-generation' ? 'model.encoder' : 'encoder';
  matrix(`${enc}.conv1.weight`, [d, o.numMelBins, 3], o.numMelBins * 3);
  vector(`${enc}.conv1.bias`, d);
  matrix(`${enc}.conv2.weight`, [d, d, 3], d * 3);
  vector(`${enc}.conv2.bias`, d);
  put(`${enc}.embed_positions.weight`, [o.maxSourcePositions, d], () => rng.normal() * 0.2);
  for (let i = 0; i < o.layers; i++) {
    const l = `${enc}.layers.${i}`;
    attention(`${l}.self_attn`, d);
    norm(`${l}.self_attn_layer_norm`, d);
    linear(`${l}.fc1`, ffn, d);
    linear(`${l}.fc2`, d, ffn);
    norm(`${l}.final_layer_norm`, d);
  }
  norm(`${enc}.layer_norm`, d);
  if (o.layout === 'encoder-only') return w;

  const dec = o.layout === 'conditional-generation' ? 'model.decoder' : 'decoder';
  put(`${dec}.embed_tokens.weight`, [o.vocabSize, d], () => rng.normal());
  put(`${dec}.embed_positions.weight`, [o.maxTargetPositions, d], () => rng.normal() * 0.2);
  for (let i = 0; i < o.decoderLayers; i++) {
    const l = `${dec}.layers.${i}`;
    attention(`${l}.self_attn`, d);
    norm(`${l}.self_attn_layer_norm`, d);
    attention(`${l}.encoder_attn`, d);
    norm(`${l}.encoder_attn_layer_norm`, d);
    linear(`${l}.fc1`, ffn, d);
    linear(`${l}.fc2`, d, ffn);
    norm(`${l}.final_layer_norm`, d);
  }
  norm(`${dec}.layer_norm`, d);
  // proj_out is tied to embed_tokens in WhisperForConditionalGeneration, so save_pretrained omits it.
  return w;
}

/**
 * A tiny random Whisper checkpoint as files: `config.json`, `model.safetensors`, `preprocessor_config.json`.
 * Defaults: d_model 32, 2 layers, 2 heads, ffn 64, 80 mel bins, 1500 positions (the real 30 s window),
 * WhisperForConditionalGeneration names with a decoder (the seed's audio feature needs it).
 */
export function makeTinyWhisperEncoder(options: TinyWhisperOptions = {}): Map<string, Uint8Array> {
  const json = (v: unknown) => new TextEncoder().encode(JSON.stringify(v, null, 2) + '\n');
  return new Map([
    ['config.json', json(tinyWhisperConfigJSON(options))],
    ['model.safetensors', serializeSafetensors(randomWhisperWeights(options), { format: 'pt' })],
    ['preprocessor_config.json', json(tinyWhisperPreprocessorConfigJSON(options))],
  ]);
}
