/**
 * The CLIP vision tower's hyper-parameters, read from a Hugging Face `config.json` that is either a
 * `CLIPVisionConfig` (`model_type: "clip_vision_model"`, what `CLIPVisionModel.save_pretrained` writes) or a
 * whole `CLIPConfig` (`model_type: "clip"`) whose `vision_config` holds them (e.g. openai/clip-vit-large-patch14-336).
 */

/** Parsed `CLIPVisionConfig`. */
export interface CLIPVisionConfig {
  hiddenSize: number;
  intermediateSize: number;
  numHiddenLayers: number;
  numAttentionHeads: number;
  numChannels: number;
  imageSize: number;
  patchSize: number;
  /** Hugging Face activation name (`quick_gelu` for OpenAI CLIP, `gelu` for some fine-tunes). */
  hiddenAct: string;
  layerNormEps: number;
}

/**
 * Hugging Face's `CLIPVisionConfig` defaults (ViT-B/32). Old checkpoints, and `vision_config` blocks written by
 * `to_diff_dict`, omit fields equal to these, so a missing field must mean this value, as it does in Python.
 */
const DEFAULTS: CLIPVisionConfig = {
  hiddenSize: 768,
  intermediateSize: 3072,
  numHiddenLayers: 12,
  numAttentionHeads: 12,
  numChannels: 3,
  imageSize: 224,
  patchSize: 32,
  hiddenAct: 'quick_gelu',
  layerNormEps: 1e-5,
};

const FIELDS: [keyof CLIPVisionConfig, string][] = [
  ['hiddenSize', 'hidden_size'],
  ['intermediateSize', 'intermediate_size'],
  ['numHiddenLayers', 'num_hidden_layers'],
  ['numAttentionHeads', 'num_attention_heads'],
  ['numChannels', 'num_channels'],
  ['imageSize', 'image_size'],
  ['patchSize', 'patch_size'],
  ['hiddenAct', 'hidden_act'],
  ['layerNormEps', 'layer_norm_eps'],
];

/**
 * Parses a CLIP vision config. `where` names the file in errors. Throws if the JSON is neither a vision config nor
 * a CLIP config with `vision_config`, or if a size is not a positive integer / does not divide evenly.
 */
export function parseCLIPVisionConfig(json: unknown, where = 'config.json'): CLIPVisionConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error(`${where}: expected a JSON object`);
  const top = json as Record<string, unknown>;
  let raw: Record<string, unknown>;
  let path = '';
  if (typeof top.vision_config === 'object' && top.vision_config !== null) {
    raw = top.vision_config as Record<string, unknown>;
    path = 'vision_config.';
  } else if (top.model_type === 'clip_vision_model' || ('patch_size' in top && 'hidden_size' in top)) {
    raw = top;
  } else {
    throw new Error(
      `${where}: not a CLIP vision config (model_type ${JSON.stringify(top.model_type)}; ` +
        `expected "clip_vision_model", or a CLIPModel config with "vision_config")`,
    );
  }
  const out = { ...DEFAULTS };
  for (const [key, name] of FIELDS) {
    const v = raw[name];
    if (v === undefined || v === null) continue;
    if (key === 'hiddenAct') {
      if (typeof v !== 'string') throw new Error(`${where}: ${path}${name} must be a string, got ${JSON.stringify(v)}`);
      out.hiddenAct = v;
    } else if (key === 'layerNormEps') {
      if (typeof v !== 'number' || !(v > 0)) throw new Error(`${where}: ${path}${name} must be a positive number`);
      out.layerNormEps = v;
    } else {
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
        throw new Error(`${where}: ${path}${name} must be a positive integer, got ${JSON.stringify(v)}`);
      }
      out[key] = v;
    }
  }
  if (out.imageSize % out.patchSize !== 0) {
    throw new Error(`${where}: ${path}image_size ${out.imageSize} is not a multiple of patch_size ${out.patchSize}`);
  }
  if (out.hiddenSize % out.numAttentionHeads !== 0) {
    throw new Error(`${where}: ${path}hidden_size ${out.hiddenSize} is not divisible by num_attention_heads ${out.numAttentionHeads}`);
  }
  return out;
}

/** Patches per side, `image_size / patch_size`. */
export function clipGridSize(c: CLIPVisionConfig): number {
  return c.imageSize / c.patchSize;
}
