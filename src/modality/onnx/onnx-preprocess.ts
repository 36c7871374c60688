/**
 * Item → ONNX encoder inputs, for the preprocessing an exported encoder expects. Every item becomes feeds with
 * a leading batch dim of 1 (the encoder stacks items of equal shape into one run).
 *
 * - `image_clip`: CLIP resize / crop / normalise from the model folder's `preprocessor_config.json` (Python
 *   `CLIPImageProcessor` defaults, 224 px, when absent) → float `[1, 3, H, W]`.
 * - `audio_whisper_mel`: Whisper log-mel from the folder's `preprocessor_config.json` → `[1, mels, frames]`.
 * - `audio_clap`: CLAP log-mel (48 kHz, 64 mels, 10 s) → `[1, 1, frames, 64]`, plus `is_longer` (bool `[1, 1]`)
 *   when the graph takes it. Clips longer than the window are cut to their start (deterministic; the seed's
 *   fused model picks random crops and a downsampled whole — export the unfused audio tower for this path).
 * - `audio_waveform`: mono samples at `samplingRate` (default 16000) → `[1, samples]`, for graphs that contain
 *   their own front end.
 * - `text`: the folder's (or `tokenizer` folder's) tokenizer → int64 `input_ids` `[1, T]` with `attention_mask`
 *   / `token_type_ids` fed when the graph has such inputs; truncated to the tokenizer's `model_max_length`.
 * - `vector`: a number array → float `[1, dim]`.
 * - `raw`: numbers as given, nested arrays or `{data, dims}`, without batch dim → float `[1, ...dims]`.
 */
import type { PreTrainedTokenizer } from '@huggingface/transformers';
import type { OnnxSession, OnnxTensor } from '../../encoders/onnx-runtime.js';
import { readJSON, type ModelSource } from '../../io/source.js';
import { loadTokenizer } from '../../io/tokenizer.js';
import type { PreprocessContext } from '../modality.js';
import { imageItem, loadTransformers } from '../../media/image-input.js';
import { loadAudio } from '../../media/audio-input.js';
import { ClipImagePreprocessor } from '../vision-clip/clip-preprocess.js';
import { loadWhisperFeatures } from '../audio-whisper/whisper-features.js';

/** The preprocessing kinds an ONNX encoder can ask for. */
export const ONNX_PREPROCESS_KINDS = ['image_clip', 'audio_whisper_mel', 'audio_clap', 'audio_waveform', 'text', 'vector', 'raw'] as const;
export type OnnxPreprocessKind = (typeof ONNX_PREPROCESS_KINDS)[number];

/** One item's inputs; `mask` marks real tokens (text) so mean pooling can skip padding. */
export interface OnnxItemFeeds {
  feeds: Record<string, OnnxTensor>;
  mask?: number[];
}

/** Turns one item into feeds; `label` (`row "7": sounds[0]`) starts every error. */
export type OnnxItemPreprocessor = (item: unknown, label: string, ctx?: PreprocessContext) => Promise<OnnxItemFeeds>;

/** What a preprocessor is made from. */
export interface OnnxPreprocessSetup {
  kind: OnnxPreprocessKind;
  /** The graph input the main tensor goes to. */
  input: string;
  session: OnnxSession;
  /** The encoder folder: `preprocessor_config.json` and the tokenizer are read from it. */
  source: ModelSource;
  /** Folder of the tokenizer for `text` (default `source`). */
  tokenizerSource?: ModelSource;
  /** Target rate for `audio_waveform` (default 16000). */
  samplingRate?: number;
  /** `text`: pad every text to the tokenizer's max length (CLIP-style text towers expect 77 tokens). */
  padText?: boolean;
}

const f32 = (data: Float32Array, dims: number[]): OnnxTensor => ({ type: 'float32', data, dims });

/** Builds the preprocessor for `setup.kind` (loading configs/tokenizers once). */
export async function makeOnnxPreprocessor(setup: OnnxPreprocessSetup): Promise<OnnxItemPreprocessor> {
  const { input, session, source } = setup;
  const has = (name: string) => session.inputNames.includes(name);
  switch (setup.kind) {
    case 'image_clip': {
      const clip = (await source.exists('preprocessor_config.json'))
        ? await ClipImagePreprocessor.load(source)
        : await ClipImagePreprocessor.fromConfig({});
      const [h, w] = clip.outputSize;
      return async (item, label, ctx) => ({ feeds: { [input]: f32(await clip.pixelValues(await imageItem(item, label, ctx)), [1, 3, h, w]) } });
    }
    case 'audio_whisper_mel': {
      const mel = await loadWhisperFeatures(source);
      return async (item, label, ctx) => {
        const samples = await loadAudio(item, label, ctx, { samplingRate: mel.samplingRate });
        return { feeds: { [input]: f32(await mel.extract(samples), [1, mel.numMelBins, mel.frames]) } };
      };
    }
    case 'audio_clap':
      return clapPreprocessor(setup);
    case 'audio_waveform': {
      const rate = setup.samplingRate ?? 16000;
      return async (item, label, ctx) => {
        const samples = await loadAudio(item, label, ctx, { samplingRate: rate });
        return { feeds: { [input]: f32(samples, [1, samples.length]) } };
      };
    }
    case 'text': {
      const tok = await loadTokenizer(setup.tokenizerSource ?? source);
      return async (item, label) => textFeeds(tok, item, label, setup, has);
    }
    case 'vector':
      return async (item, label) => {
        const v = numbers(item, label);
        if (v.dims.length !== 1) throw new Error(`${label}: a vector must be a flat array of numbers`);
        return { feeds: { [input]: f32(v.data, [1, v.data.length]) } };
      };
    case 'raw':
      return async (item, label) => {
        const v = numbers(item, label);
        return { feeds: { [input]: f32(v.data, [1, ...v.dims]) } };
      };
  }
}

function textFeeds(
  tok: PreTrainedTokenizer,
  item: unknown,
  label: string,
  setup: OnnxPreprocessSetup,
  has: (n: string) => boolean,
): OnnxItemFeeds {
  const text = typeof item === 'string' ? item : typeof item === 'object' && item !== null ? (item as { text?: unknown }).text : undefined;
  if (typeof text !== 'string') throw new Error(`${label}: a text item must be a string or {text}`);
  const max = (tok as unknown as { model_max_length?: number }).model_max_length;
  const limit = typeof max === 'number' && max > 0 && max < 1e9 ? max : undefined;
  const enc = tok(text, {
    truncation: limit !== undefined,
    max_length: limit,
    padding: setup.padText && limit !== undefined ? 'max_length' : false,
    return_tensor: false,
  }) as unknown as { input_ids: number[]; attention_mask: number[]; token_type_ids?: number[] };
  const ids = enc.input_ids;
  if (ids.length === 0) throw new Error(`${label}: the text has no tokens`);
  const int64 = (a: number[]): OnnxTensor => ({ type: 'int64', data: BigInt64Array.from(a, (x) => BigInt(x)), dims: [1, a.length] });
  const feeds: Record<string, OnnxTensor> = { [setup.input]: int64(ids) };
  if (has('attention_mask') && setup.input !== 'attention_mask') feeds.attention_mask = int64(enc.attention_mask);
  if (has('token_type_ids') && setup.input !== 'token_type_ids') feeds.token_type_ids = int64(enc.token_type_ids ?? ids.map(() => 0));
  return { feeds, mask: enc.attention_mask };
}

/** CLAP's released feature settings (laion/clap-htsat-*), used when the folder has no preprocessor_config.json. */
const CLAP_DEFAULTS = {
  feature_size: 64,
  sampling_rate: 48000,
  hop_length: 480,
  fft_window_size: 1024,
  nb_frequency_bins: 513,
  frequency_min: 50,
  frequency_max: 14000,
  max_length_s: 10,
  nb_max_samples: 480000,
  padding: 'repeatpad',
};

async function clapPreprocessor(setup: OnnxPreprocessSetup): Promise<OnnxItemPreprocessor> {
  const stored = (await setup.source.exists('preprocessor_config.json'))
    ? await readJSON<Record<string, unknown>>(setup.source, 'preprocessor_config.json')
    : {};
  // transformers.js implements CLAP's single-crop path only ('rand_trunc'); we pre-cut long clips so it never crops at random.
  const config = { ...CLAP_DEFAULTS, ...stored, truncation: 'rand_trunc' };
  const { ClapFeatureExtractor } = await loadTransformers();
  const extractor = new ClapFeatureExtractor(config);
  const rate = config.sampling_rate as number;
  const window = config.nb_max_samples as number;
  const withLonger = setup.session.inputNames.includes('is_longer');
  return async (item, label, ctx) => {
    const samples = await loadAudio(item, label, ctx, { samplingRate: rate });
    const longer = samples.length > window;
    const { input_features } = await extractor(longer ? samples.subarray(0, window) : samples);
    const feeds: Record<string, OnnxTensor> = { [setup.input]: f32(input_features.data as Float32Array, [...input_features.dims]) };
    if (withLonger) feeds.is_longer = { type: 'bool', data: Uint8Array.of(longer ? 1 : 0), dims: [1, 1] };
    return { feeds };
  };
}

/** Nested number arrays, typed arrays or `{data, dims}` → flat float data and dims (checked rectangular). */
function numbers(item: unknown, label: string): { data: Float32Array; dims: number[] } {
  if (item instanceof Float32Array || item instanceof Float64Array) return { data: Float32Array.from(item), dims: [item.length] };
  if (typeof item === 'object' && item !== null && !Array.isArray(item) && 'dims' in item) {
    const { data, dims } = item as { data?: unknown; dims?: unknown };
    const flat = numbers(data, label);
    if (!Array.isArray(dims) || dims.some((d) => !Number.isInteger(d) || d < 1)) throw new Error(`${label}: dims must be positive integers`);
    const n = (dims as number[]).reduce((a, b) => a * b, 1);
    if (n !== flat.data.length) throw new Error(`${label}: ${flat.data.length} values do not fill dims [${dims.join(', ')}]`);
    return { data: flat.data, dims: dims as number[] };
  }
  if (!Array.isArray(item) || item.length === 0) throw new Error(`${label}: expected a non-empty array of numbers`);
  const dims: number[] = [];
  for (let level: unknown = item; Array.isArray(level); level = level[0]) dims.push(level.length);
  const out: number[] = [];
  const walk = (v: unknown, depth: number): void => {
    if (depth === dims.length) {
      if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`${label}: contains ${JSON.stringify(v)}, not a finite number`);
      out.push(v);
      return;
    }
    if (!Array.isArray(v) || v.length !== dims[depth]) throw new Error(`${label}: nested arrays are not rectangular (shape [${dims.join(', ')}])`);
    for (const x of v) walk(x, depth + 1);
  };
  walk(item, 0);
  return { data: Float32Array.from(out), dims };
}
