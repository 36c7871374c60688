/**
 * The Whisper configuration, read from a Hugging Face `WhisperConfig` `config.json`. Only the fields the
 * encoder (and the one decoder step the seed's audio feature needs) use are kept; the encoder fields are
 * required, the decoder fields are checked only when the decoder is built.
 */

/** The parts of `WhisperConfig` this project uses. */
export interface WhisperConfig {
  dModel: number;
  encoderLayers: number;
  encoderAttentionHeads: number;
  encoderFfnDim: number;
  numMelBins: number;
  /** Encoder positions: input frames are at most `2 × maxSourcePositions` (conv2 has stride 2). */
  maxSourcePositions: number;
  /** `activation_function` of the feed-forward blocks (Whisper: exact `gelu`). */
  activationFunction: string;
  decoderLayers: number | null;
  decoderAttentionHeads: number | null;
  decoderFfnDim: number | null;
  maxTargetPositions: number | null;
  vocabSize: number | null;
  decoderStartTokenId: number | null;
  /** Multiply decoder token embeddings by sqrt(d_model) (`scale_embedding`; false for every Whisper). */
  scaleEmbedding: boolean;
  /** The untouched config.json. */
  raw: Record<string, unknown>;
}

function positiveInt(raw: Record<string, unknown>, key: string, where: string): number {
  const v = raw[key];
  if (typeof v === 'number' && Number.isInteger(v) && v > 0) return v;
  if (v === undefined || v === null) throw new Error(`${where}: missing required field "${key}"`);
  throw new Error(`${where}: field "${key}" must be a positive integer, got ${JSON.stringify(v)}`);
}

function optionalInt(raw: Record<string, unknown>, key: string, where: string): number | null {
  const v = raw[key];
  if (v === undefined || v === null) return null;
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0) return v;
  throw new Error(`${where}: field "${key}" must be a non-negative integer, got ${JSON.stringify(v)}`);
}

/**
 * Parses a Whisper `config.json` object. `where` names the file in errors. Throws if an encoder field is
 * missing, if `model_type` is present and not `whisper`, or if `d_model` does not split into the heads.
 */
export function parseWhisperConfig(json: unknown, where = 'config.json'): WhisperConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error(`${where}: not a JSON object`);
  const raw = json as Record<string, unknown>;
  if (raw.model_type !== undefined && raw.model_type !== 'whisper') {
    throw new Error(`${where}: model_type is ${JSON.stringify(raw.model_type)}, expected "whisper"`);
  }
  const act = raw.activation_function ?? 'gelu';
  if (typeof act !== 'string') throw new Error(`${where}: activation_function must be a string`);
  const c: WhisperConfig = {
    dModel: positiveInt(raw, 'd_model', where),
    encoderLayers: positiveInt(raw, 'encoder_layers', where),
    encoderAttentionHeads: positiveInt(raw, 'encoder_attention_heads', where),
    encoderFfnDim: positiveInt(raw, 'encoder_ffn_dim', where),
    numMelBins: positiveInt(raw, 'num_mel_bins', where),
    maxSourcePositions: positiveInt(raw, 'max_source_positions', where),
    activationFunction: act,
    decoderLayers: optionalInt(raw, 'decoder_layers', where),
    decoderAttentionHeads: optionalInt(raw, 'decoder_attention_heads', where),
    decoderFfnDim: optionalInt(raw, 'decoder_ffn_dim', where),
    maxTargetPositions: optionalInt(raw, 'max_target_positions', where),
    vocabSize: optionalInt(raw, 'vocab_size', where),
    decoderStartTokenId: optionalInt(raw, 'decoder_start_token_id', where),
    scaleEmbedding: raw.scale_embedding === true,
    raw,
  };
  if (c.dModel % c.encoderAttentionHeads !== 0) {
    throw new Error(`${where}: d_model ${c.dModel} is not divisible by encoder_attention_heads ${c.encoderAttentionHeads}`);
  }
  return c;
}
