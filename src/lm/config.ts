/**
 * The Llama-family configuration, read from a Hugging Face `config.json`. Llama, Mistral, Qwen2 and
 * TinyLlama/SmolLM differ only in a few switches (bias on q/k/v, sliding window, rope scaling, tied
 * embeddings); they are normalised here so the model code has one path.
 */

export interface RopeScaling {
  type: 'default' | 'linear' | 'llama3';
  factor: number;
  lowFreqFactor?: number;
  highFreqFactor?: number;
  originalMaxPositionEmbeddings?: number;
}

export interface LlamaConfig {
  modelType: 'llama' | 'mistral' | 'qwen2';
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numHiddenLayers: number;
  numAttentionHeads: number;
  numKeyValueHeads: number;
  headDim: number;
  rmsNormEps: number;
  ropeTheta: number;
  ropeScaling: RopeScaling | null;
  maxPositionEmbeddings: number;
  /** Bias on q/k/v projections (Qwen2 always; Llama when `attention_bias`). */
  qkvBias: boolean;
  /** Bias on the output projection (Llama `attention_bias` only). */
  oBias: boolean;
  mlpBias: boolean;
  /** Mistral's sliding-window attention; null = full causal attention. */
  slidingWindow: number | null;
  /**
   * The window each layer actually uses (null = full causal). Mistral: `slidingWindow` on every layer. Qwen2
   * (with `use_sliding_window`): only the layers `layer_types` marks "sliding_attention", by default those with
   * index >= `max_window_layers`, as HF's Qwen2Config derives them.
   */
  layerSlidingWindows: (number | null)[];
  tieWordEmbeddings: boolean;
  hiddenAct: string;
  bosTokenId: number | null;
  eosTokenIds: number[];
  padTokenId: number | null;
  /** The untouched config.json, kept so it can be written back unchanged. */
  raw: Record<string, unknown>;
}

export const SUPPORTED_MODEL_TYPES = ['llama', 'mistral', 'qwen2'] as const;

function num(raw: Record<string, unknown>, key: string, fallback?: number): number {
  const v = raw[key];
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (v === undefined || v === null) {
    if (fallback !== undefined) return fallback;
    throw new Error(`config.json: missing required field "${key}"`);
  }
  throw new Error(`config.json: field "${key}" must be a number, got ${JSON.stringify(v)}`);
}

function ids(v: unknown): number[] {
  if (typeof v === 'number') return [v];
  if (Array.isArray(v)) return v.filter((x): x is number => typeof x === 'number');
  return [];
}

function parseRopeScaling(v: unknown): RopeScaling | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'object') throw new Error('config.json: "rope_scaling" must be an object or null');
  const r = v as Record<string, unknown>;
  const type = (r.rope_type ?? r.type ?? 'default') as string;
  if (type === 'default') return null;
  if (type !== 'linear' && type !== 'llama3') {
    throw new Error(`config.json: rope_scaling type "${type}" is not supported (supported: linear, llama3)`);
  }
  const factor = num(r, 'factor');
  if (type === 'linear') return { type, factor };
  return {
    type,
    factor,
    lowFreqFactor: num(r, 'low_freq_factor'),
    highFreqFactor: num(r, 'high_freq_factor'),
    originalMaxPositionEmbeddings: num(r, 'original_max_position_embeddings'),
  };
}

/** Parses and validates a Llama-family `config.json`. */
export function parseLlamaConfig(raw: Record<string, unknown>): LlamaConfig {
  // The Python library saves LMM configs as "<family>-lmm" (MistralLMMConfig.model_type = "mistral-lmm").
  const rawType = String(raw.model_type ?? 'llama');
  const modelType = rawType.endsWith('-lmm') ? rawType.slice(0, -'-lmm'.length) : rawType;
  if (!(SUPPORTED_MODEL_TYPES as readonly string[]).includes(modelType)) {
    throw new Error(
      `config.json: model_type "${modelType}" is not a supported language model (supported: ${SUPPORTED_MODEL_TYPES.join(', ')})`,
    );
  }
  const hiddenSize = num(raw, 'hidden_size');
  const numAttentionHeads = num(raw, 'num_attention_heads');
  const numKeyValueHeads = num(raw, 'num_key_value_heads', numAttentionHeads);
  if (numAttentionHeads % numKeyValueHeads !== 0) {
    throw new Error(
      `config.json: num_attention_heads (${numAttentionHeads}) must be a multiple of num_key_value_heads (${numKeyValueHeads})`,
    );
  }
  const headDim = num(raw, 'head_dim', hiddenSize / numAttentionHeads);
  if (!Number.isInteger(headDim) || headDim % 2 !== 0) {
    throw new Error(`config.json: head_dim must be an even integer, got ${headDim}`);
  }
  const attentionBias = raw.attention_bias === true;
  const isQwen2 = modelType === 'qwen2';
  const useSliding = modelType === 'mistral' || (isQwen2 && raw.use_sliding_window === true);
  const sw = raw.sliding_window;
  const slidingWindow = useSliding && typeof sw === 'number' ? sw : null;
  const numHiddenLayers = num(raw, 'num_hidden_layers');
  const layerTypes = Array.isArray(raw.layer_types) ? raw.layer_types : null;
  const maxWindowLayers = isQwen2 ? num(raw, 'max_window_layers', 28) : 0;
  const layerSlidingWindows = Array.from({ length: numHiddenLayers }, (_, i) => {
    if (slidingWindow === null || !isQwen2) return slidingWindow;
    const sliding = layerTypes ? layerTypes[i] === 'sliding_attention' : i >= maxWindowLayers;
    return sliding ? slidingWindow : null;
  });
  return {
    modelType: modelType as LlamaConfig['modelType'],
    vocabSize: num(raw, 'vocab_size'),
    hiddenSize,
    intermediateSize: num(raw, 'intermediate_size'),
    numHiddenLayers,
    numAttentionHeads,
    numKeyValueHeads,
    headDim,
    rmsNormEps: num(raw, 'rms_norm_eps', 1e-6),
    ropeTheta: num(raw, 'rope_theta', 10000),
    ropeScaling: parseRopeScaling(raw.rope_scaling),
    maxPositionEmbeddings: num(raw, 'max_position_embeddings', 2048),
    qkvBias: isQwen2 || attentionBias,
    oBias: attentionBias,
    mlpBias: raw.mlp_bias === true,
    slidingWindow,
    layerSlidingWindows,
    tieWordEmbeddings: raw.tie_word_embeddings === true,
    hiddenAct: String(raw.hidden_act ?? 'silu'),
    bosTokenId: typeof raw.bos_token_id === 'number' ? raw.bos_token_id : null,
    eosTokenIds: ids(raw.eos_token_id),
    padTokenId: typeof raw.pad_token_id === 'number' ? raw.pad_token_id : null,
    raw,
  };
}

/** HF architecture class name for a model type (written into config.json `architectures`). */
export function architectureFor(modelType: LlamaConfig['modelType']): string {
  return { llama: 'LlamaForCausalLM', mistral: 'MistralForCausalLM', qwen2: 'Qwen2ForCausalLM' }[modelType];
}
