/**
 * Whisper's log-mel input features, computed by transformers.js's `WhisperFeatureExtractor` configured from the
 * checkpoint's own `preprocessor_config.json` (so mel count, window length and hop follow the checkpoint, as
 * Hugging Face's `AutoFeatureExtractor.from_pretrained` does in the Python library).
 */
import { ModelFileError, joinLocation, readJSON, type ModelSource } from '../../io/source.js';

/** A configured extractor: 16 kHz mono samples → `[numMelBins, frames]` log-mel values, row-major. */
export interface WhisperFeatures {
  /** Rate the samples must have (16000 for every Whisper). */
  readonly samplingRate: number;
  readonly numMelBins: number;
  /** Window in samples (`n_samples`; 480000 = 30 s). Longer input is cut, shorter is zero-padded. */
  readonly samples: number;
  /** Frames per window (`nb_max_frames`; 3000). */
  readonly frames: number;
  /** The extractor's settings, defaults filled in (another thread rebuilds the same extractor from them). */
  readonly config: Record<string, unknown>;
  /** Log-mel features of one clip: `numMelBins × frames` floats, mel-major (`[mels, frames]`). */
  extract(samples: Float32Array): Promise<Float32Array>;
}

const FILE = 'preprocessor_config.json';

function positiveInt(cfg: Record<string, unknown>, key: string, where: string): number {
  const v = cfg[key];
  if (typeof v === 'number' && Number.isInteger(v) && v > 0) return v;
  throw new ModelFileError(`${where}: field "${key}" must be a positive integer, got ${JSON.stringify(v)}`);
}

/**
 * Reads `preprocessor_config.json` from `source` and builds the extractor. Throws a `ModelFileError` naming
 * the file when it is missing (the feature settings are not guessed), is not a Whisper feature extractor
 * config, or lacks a field. `n_samples` / `nb_max_frames` default from `chunk_length` as in Hugging Face.
 */
export async function loadWhisperFeatures(source: ModelSource): Promise<WhisperFeatures> {
  const where = joinLocation(source.location, FILE);
  if (!(await source.exists(FILE))) {
    throw new ModelFileError(
      `missing ${where}: the Whisper feature extractor (feature_size, sampling_rate, hop_length, n_fft, ` +
        `chunk_length) is configured from it; copy it from the original checkpoint`,
    );
  }
  const raw = await readJSON<unknown>(source, FILE);
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ModelFileError(`${where}: not a JSON object`);
  const cfg = { ...(raw as Record<string, unknown>) };
  const type = cfg.feature_extractor_type;
  if (type !== undefined && type !== 'WhisperFeatureExtractor') {
    throw new ModelFileError(`${where}: feature_extractor_type is ${JSON.stringify(type)}, expected "WhisperFeatureExtractor"`);
  }
  const samplingRate = positiveInt(cfg, 'sampling_rate', where);
  const hop = positiveInt(cfg, 'hop_length', where);
  positiveInt(cfg, 'n_fft', where);
  const numMelBins = positiveInt(cfg, 'feature_size', where);
  if (cfg.n_samples === undefined && typeof cfg.chunk_length === 'number') cfg.n_samples = cfg.chunk_length * samplingRate;
  const samples = positiveInt(cfg, 'n_samples', where);
  cfg.nb_max_frames ??= Math.floor(samples / hop);
  const frames = positiveInt(cfg, 'nb_max_frames', where);
  // Older hub files store `mel_filters` (80 × 201); current Hugging Face ignores them and recomputes the same
  // slaney filter bank, and transformers.js would use them only if they are [mels][freqs]. Recompute always.
  delete cfg.mel_filters;
  // Imported on first use: transformers.js is large, and a page or process without audio should not load it.
  const { WhisperFeatureExtractor } = await import('@huggingface/transformers');
  // A copy: the extractor adds its computed filter bank to the object it is given.
  const settings = { ...cfg };
  const extractor = new WhisperFeatureExtractor(cfg);
  return {
    samplingRate,
    numMelBins,
    samples,
    frames,
    config: settings,
    async extract(x: Float32Array): Promise<Float32Array> {
      // Cut here rather than let transformers.js do it: same result, without its "longer than 30 s" warning.
      const { input_features } = await extractor(x.length > samples ? x.subarray(0, samples) : x);
      const data = input_features.data as Float32Array;
      if (data.length !== numMelBins * frames) {
        throw new Error(`${where}: the extractor made ${input_features.dims} features, expected [1, ${numMelBins}, ${frames}]`);
      }
      return data;
    },
  };
}
