/**
 * The X-CLIP video tower's hyper-parameters, from a Hugging Face `XCLIPConfig` (`model_type: "xclip"`, e.g.
 * microsoft/xclip-base-patch32): the vision transformer (`vision_config`, read like CLIP's), the frame count its
 * cross-frame communication and multi-frame integration transformer (MIT) were trained for, the MIT sizes, and
 * `projection_dim` (the video embedding width, 512 for the base models).
 */
import { parseCLIPVisionConfig, type CLIPVisionConfig } from './clip-config.js';

export interface XCLIPVideoConfig {
  vision: CLIPVisionConfig;
  numFrames: number;
  projectionDim: number;
  /** The MIT: CLIP encoder layers over the per-frame embeddings (its width is `projectionDim`). */
  mit: { hiddenSize: number; intermediateSize: number; numHiddenLayers: number; numAttentionHeads: number };
}

/** HF's `XCLIPVisionConfig` / `XCLIPConfig` defaults for the fields CLIP's config has not. */
const DEFAULTS = { numFrames: 8, projectionDim: 512, mitHidden: 512, mitIntermediate: 2048, mitLayers: 1, mitHeads: 8 };

function positiveInt(o: Record<string, unknown>, key: string, fallback: number, where: string): number {
  const v = o[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new Error(`${where}: ${key} must be a positive integer, got ${JSON.stringify(v)}`);
  return v;
}

/** Parses an `XCLIPConfig` (also the old `vision_config_dict` spelling). */
export function parseXCLIPConfig(json: unknown, where = 'config.json'): XCLIPVideoConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error(`${where}: expected a JSON object`);
  const top = json as Record<string, unknown>;
  const visionRaw = (top.vision_config ?? top.vision_config_dict) as Record<string, unknown> | undefined;
  if (typeof visionRaw !== 'object' || visionRaw === null) {
    throw new Error(`${where}: not an X-CLIP config (model_type ${JSON.stringify(top.model_type)}; expected "xclip" with "vision_config")`);
  }
  const vision = parseCLIPVisionConfig({ vision_config: visionRaw }, where);
  const at = `${where} vision_config`;
  const projectionDim = positiveInt(top, 'projection_dim', DEFAULTS.projectionDim, where);
  const mit = {
    hiddenSize: positiveInt(visionRaw, 'mit_hidden_size', DEFAULTS.mitHidden, at),
    intermediateSize: positiveInt(visionRaw, 'mit_intermediate_size', DEFAULTS.mitIntermediate, at),
    numHiddenLayers: positiveInt(visionRaw, 'mit_num_hidden_layers', DEFAULTS.mitLayers, at),
    numAttentionHeads: positiveInt(visionRaw, 'mit_num_attention_heads', DEFAULTS.mitHeads, at),
  };
  if (mit.hiddenSize !== projectionDim) throw new Error(`${where}: vision_config.mit_hidden_size ${mit.hiddenSize} must equal projection_dim ${projectionDim}`);
  if (mit.hiddenSize % mit.numAttentionHeads !== 0) throw new Error(`${at}: mit_hidden_size ${mit.hiddenSize} is not divisible by mit_num_attention_heads ${mit.numAttentionHeads}`);
  return { vision, numFrames: positiveInt(visionRaw, 'num_frames', DEFAULTS.numFrames, at), projectionDim, mit };
}
