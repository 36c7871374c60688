/**
 * The `audio_whisper` modality, as the seed's `WhisperAudioModality`: token `<speech>`, data key
 * `speech_audios`, each clip → Whisper log-mel features (padded/cut to the 30 s window) → one `d_model` vector →
 * a vector projector of `numTokens` (10) parallel MLPs, stored as `<name>_lmm_projector.mlps.<j>.<i>.*`.
 *
 * The vector is the seed's: the Whisper decoder's state at its start token, after cross-attending to the
 * encoder states (`WhisperModel(...).last_hidden_state` with `decoder_input_ids=[[decoder_start_token_id]]`).
 * `pooling: 'mean'` (mean of the encoder states) exists for encoder-only checkpoints; projectors trained with it
 * are not interchangeable with the seed's.
 */
import { tf, type Tensor } from '../../tf.js';
import { readJSON, type ModelSource } from '../../io/source.js';
import { readWeightFiles, WeightStore } from '../../io/weights.js';
import { parseWhisperConfig } from '../../encoders/whisper-config.js';
import { WhisperEncoder } from '../../encoders/whisper-encoder.js';
import { WhisperDecoderStep } from '../../encoders/whisper-decoder-step.js';
import type { ProjectorSpec } from '../../projector/index.js';
import type { Modality, ModalityConfig, PreprocessContext } from '../modality.js';
import type { BuildContext } from '../registry.js';
import { openEncoderSource } from '../encoder-location.js';
import { itemLabel } from '../../media/item-bytes.js';
import { loadAudio } from '../../media/audio-input.js';
import type { AudioDecoder } from '../../media/audio-decode.js';
import { loadWhisperFeatures, type WhisperFeatures } from './whisper-features.js';
import { preparedAs } from '../../media/prepared-item.js';

/** How a clip's encoder states become one vector: the seed's decoder start state, or their mean. */
export type WhisperPooling = 'decoder' | 'mean';

/** Options of `audio_whisper` (all but `decode` are stored in config.json). */
export interface WhisperAudioOptions {
  /** The Whisper folder or URL (config.json, weights, preprocessor_config.json), or a source. */
  encoder: ModelSource | string;
  /** LM tokens per clip. Default 10 (the seed's builder). */
  numTokens?: number;
  /** Projector depth. Default 2. */
  projectorLayers?: number;
  /** Default `'decoder'` (the seed's feature; needs decoder weights). */
  pooling?: WhisperPooling;
  /** Clips per encoder pass; bounds the `[n, heads, 1500, 1500]` attention memory. Default 4. */
  batchSize?: number;
  name?: string;
  token?: string;
  dataKey?: string;
  /** Decoder for encoded bytes (default WAV + MP3; a browser may pass `webAudioDecoder`). Not saved. */
  decode?: AudioDecoder;
}

/** One row's clips as log-mel features: `count` blocks of `[mels, frames]`, back to back. */
export interface AudioFeatureBatch {
  count: number;
  mels: number;
  frames: number;
  features: Float32Array;
}

/** Whisper-encoded speech/audio clips as LM tokens. */
export class WhisperAudioModality implements Modality<AudioFeatureBatch> {
  readonly name: string;
  readonly token: string;
  readonly dataKey: string;
  readonly tokenWidth: number;
  readonly projectorSpec: ProjectorSpec;
  readonly pooling: WhisperPooling;

  constructor(
    readonly encoder: WhisperEncoder,
    readonly decoderStep: WhisperDecoderStep | null,
    readonly features: WhisperFeatures,
    readonly options: WhisperAudioOptions,
  ) {
    this.pooling = options.pooling ?? 'decoder';
    if (this.pooling === 'decoder' && !decoderStep) throw new Error(`audio_whisper: pooling "decoder" needs the decoder step`);
    this.name = options.name ?? 'audio_whisper';
    this.token = options.token ?? '<speech>';
    this.dataKey = options.dataKey ?? 'speech_audios';
    this.tokenWidth = options.numTokens ?? 10;
    const c = encoder.config;
    if (features.numMelBins !== c.numMelBins) {
      throw new Error(`audio_whisper: preprocessor_config.json makes ${features.numMelBins} mel bins, the encoder takes ${c.numMelBins}`);
    }
    if (features.frames > 2 * c.maxSourcePositions) {
      throw new Error(`audio_whisper: preprocessor_config.json makes ${features.frames} frames, the encoder takes at most ${2 * c.maxSourcePositions}`);
    }
    this.projectorSpec = { type: 'vector_mlp', inputSize: c.dModel, layers: options.projectorLayers ?? 2, numTokens: this.tokenWidth };
  }

  /** Loads encoder (and, for `'decoder'` pooling, the decoder step) and the feature extractor. */
  static async create(options: WhisperAudioOptions, ctx: Pick<BuildContext, 'source' | 'open'> = {}): Promise<WhisperAudioModality> {
    const source = typeof options.encoder === 'string' ? await openEncoderSource(options.encoder, ctx, 'config.json') : options.encoder;
    const features = await loadWhisperFeatures(source);
    const config = parseWhisperConfig(await readJSON(source, 'config.json'), `${source.location}/config.json`);
    const store = new WeightStore(await readWeightFiles(source), source.location);
    const encoder = WhisperEncoder.fromWeights(store, config);
    let step: WhisperDecoderStep | null = null;
    try {
      if ((options.pooling ?? 'decoder') === 'decoder') step = WhisperDecoderStep.fromWeights(store, config);
      return new WhisperAudioModality(encoder, step, features, options);
    } catch (e) {
      encoder.dispose();
      step?.dispose();
      throw e;
    }
  }

  /** Loads, mixes down and resamples each clip, then computes its log-mel features. */
  async preprocess(values: unknown[], ctx?: PreprocessContext): Promise<AudioFeatureBatch> {
    const { numMelBins: mels, frames, samplingRate } = this.features;
    const size = mels * frames;
    const features = new Float32Array(values.length * size);
    await Promise.all(
      values.map(async (v, i) => {
        const prepared = preparedAs(v, 'whisper-features', size);
        if (prepared) return features.set(prepared.data, i * size);
        const label = itemLabel(this.dataKey, i, ctx);
        const samples = await loadAudio(v, label, ctx, { samplingRate, decode: this.options.decode });
        features.set(await this.features.extract(samples), i * size);
      }),
    );
    return { count: values.length, mels, frames, features };
  }

  /** One `[clips, 1, d_model]` tensor per row; clips of all rows run through the encoder `batchSize` at a time. */
  async encode(rows: AudioFeatureBatch[]): Promise<Tensor[]> {
    const d = this.encoder.hiddenSize;
    const total = rows.reduce((s, r) => s + r.count, 0);
    if (total === 0) return rows.map(() => tf.zeros([0, 1, d]));
    const { mels, frames } = rows.find((r) => r.count > 0)!;
    const size = mels * frames;
    const all = new Float32Array(total * size);
    let at = 0;
    for (const r of rows) {
      all.set(r.features.subarray(0, r.count * size), at * size);
      at += r.count;
    }
    const batch = this.options.batchSize ?? 4;
    const parts: Tensor[] = [];
    for (let s = 0; s < total; s += batch) {
      const n = Math.min(batch, total - s);
      parts.push(tf.tidy(() => this.pool(this.encoder.forward(tf.tensor3d(all.subarray(s * size, (s + n) * size), [n, mels, frames])))));
    }
    const out = tf.tidy(() => tf.split(parts.length === 1 ? parts[0]! : tf.concat(parts, 0), rows.map((r) => r.count), 0));
    for (const t of parts) t.dispose();
    return out;
  }

  /** Encoder states [n, frames, d] → [n, 1, d]. */
  private pool(states: Tensor): Tensor {
    return this.pooling === 'decoder' ? this.decoderStep!.apply(states) : tf.mean(states, 1, true);
  }

  toConfig(): ModalityConfig {
    return {
      kind: 'audio_whisper',
      name: this.name,
      token: this.token,
      dataKey: this.dataKey,
      encoder: typeof this.options.encoder === 'string' ? this.options.encoder : this.options.encoder.location,
      numTokens: this.tokenWidth,
      projectorLayers: this.projectorSpec.layers,
      pooling: this.pooling,
    };
  }

  dispose(): void {
    this.encoder.dispose();
    this.decoderStep?.dispose();
  }
}
