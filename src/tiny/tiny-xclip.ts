/**
 * Tiny random X-CLIP checkpoints in Hugging Face's `XCLIPModel` format (config.json with `vision_config`, the video
 * side's weights under their HF names, a VideoMAE-style `preprocessor_config.json` as microsoft/xclip-base-patch32
 * ships), for tests, the mock hub and the torch reference. The text tower is left out: the video embedding does
 * not use it (Python's `from_pretrained` would initialise it randomly and warn).
 */
import { Rng } from '../util/rng.js';
import { float32ToRaw, serializeSafetensors, type RawTensor } from '../io/safetensors.js';

export interface TinyXClipOptions {
  imageSize?: number;
  patchSize?: number;
  hiddenSize?: number;
  layers?: number;
  heads?: number;
  intermediate?: number;
  numFrames?: number;
  projectionDim?: number;
  mitHeads?: number;
  mitIntermediate?: number;
  mitLayers?: number;
  seed?: number;
}

/** ImageNet's normalisation, which X-CLIP's VideoMAE image processor uses. */
export const IMAGENET_MEAN = [0.485, 0.456, 0.406];
export const IMAGENET_STD = [0.229, 0.224, 0.225];

function sizes(o: TinyXClipOptions) {
  return {
    imageSize: o.imageSize ?? 32, patchSize: o.patchSize ?? 8, hiddenSize: o.hiddenSize ?? 32, layers: o.layers ?? 2, heads: o.heads ?? 2,
    intermediate: o.intermediate ?? 64, numFrames: o.numFrames ?? 4, projectionDim: o.projectionDim ?? 16, mitHeads: o.mitHeads ?? 2,
    mitIntermediate: o.mitIntermediate ?? 32, mitLayers: o.mitLayers ?? 1,
  };
}

export function tinyXClipConfigJSON(o: TinyXClipOptions = {}): Record<string, unknown> {
  const s = sizes(o);
  return {
    architectures: ['XCLIPModel'], model_type: 'xclip', projection_dim: s.projectionDim, prompt_layers: 1, prompt_alpha: 0.1,
    prompt_hidden_act: 'quick_gelu', prompt_num_attention_heads: 2, logit_scale_init_value: 2.6592, torch_dtype: 'float32',
    text_config: { model_type: 'xclip_text_model', hidden_size: 32, intermediate_size: 64, num_hidden_layers: 1, num_attention_heads: 2, vocab_size: 64, max_position_embeddings: 16 },
    vision_config: {
      model_type: 'xclip_vision_model', hidden_size: s.hiddenSize, intermediate_size: s.intermediate, num_hidden_layers: s.layers,
      num_attention_heads: s.heads, image_size: s.imageSize, patch_size: s.patchSize, num_channels: 3, num_frames: s.numFrames,
      hidden_act: 'quick_gelu', layer_norm_eps: 1e-5, drop_path_rate: 0, mit_hidden_size: s.projectionDim, mit_intermediate_size: s.mitIntermediate,
      mit_num_hidden_layers: s.mitLayers, mit_num_attention_heads: s.mitHeads,
    },
  };
}

/** As microsoft/xclip-base-patch32's: resize the short side, centre crop, bilinear, ImageNet normalisation. */
export function tinyXClipPreprocessorJSON(imageSize = 32): Record<string, unknown> {
  return {
    feature_extractor_type: 'VideoMAEFeatureExtractor', processor_class: 'XCLIPProcessor', do_resize: true, size: imageSize, resample: 2,
    do_center_crop: true, crop_size: imageSize, do_normalize: true, image_mean: IMAGENET_MEAN, image_std: IMAGENET_STD,
  };
}

export function randomXClipWeights(o: TinyXClipOptions = {}): Map<string, RawTensor> {
  const s = sizes(o);
  const rng = new Rng(o.seed ?? 0);
  const out = new Map<string, RawTensor>();
  const put = (name: string, shape: number[], f: () => number) => {
    const a = new Float32Array(shape.reduce((x, y) => x * y, 1));
    for (let i = 0; i < a.length; i++) a[i] = f();
    out.set(name, float32ToRaw(a, shape, 'F32'));
  };
  const normal = (std: number) => () => rng.normal() * std;
  const ln = (name: string, d: number) => {
    put(`${name}.weight`, [d], () => 1 + rng.normal() * 0.1);
    put(`${name}.bias`, [d], normal(0.1));
  };
  const linear = (name: string, outF: number, inF: number) => {
    put(`${name}.weight`, [outF, inF], normal(1 / Math.sqrt(inF)));
    put(`${name}.bias`, [outF], normal(0.05));
  };
  const attention = (name: string, d: number) => {
    for (const p of ['k_proj', 'v_proj', 'q_proj', 'out_proj']) linear(`${name}.${p}`, d, d);
  };
  const d = s.hiddenSize;
  const grid = s.imageSize / s.patchSize;
  const vm = 'vision_model';
  put(`${vm}.embeddings.class_embedding`, [d], normal(1));
  put(`${vm}.embeddings.patch_embedding.weight`, [d, 3, s.patchSize, s.patchSize], normal(1 / Math.sqrt(3 * s.patchSize ** 2)));
  put(`${vm}.embeddings.position_embedding.weight`, [grid * grid + 1, d], normal(0.5));
  ln(`${vm}.pre_layernorm`, d);
  for (let i = 0; i < s.layers; i++) {
    const p = `${vm}.encoder.layers.${i}`;
    linear(`${p}.message_fc`, d, d);
    ln(`${p}.message_ln`, d);
    attention(`${p}.message_attn`, d);
    attention(`${p}.self_attn`, d);
    ln(`${p}.layer_norm1`, d);
    linear(`${p}.mlp.fc1`, s.intermediate, d);
    linear(`${p}.mlp.fc2`, d, s.intermediate);
    ln(`${p}.layer_norm2`, d);
  }
  ln(`${vm}.post_layernorm`, d);
  put('visual_projection.weight', [s.projectionDim, d], normal(1 / Math.sqrt(d)));
  const pd = s.projectionDim;
  put('mit.position_embedding', [1, s.numFrames, pd], normal(0.5));
  for (let i = 0; i < s.mitLayers; i++) {
    const p = `mit.encoder.layers.${i}`;
    attention(`${p}.self_attn`, pd);
    ln(`${p}.layer_norm1`, pd);
    linear(`${p}.mlp.fc1`, s.mitIntermediate, pd);
    linear(`${p}.mlp.fc2`, pd, s.mitIntermediate);
    ln(`${p}.layer_norm2`, pd);
  }
  return out;
}

/** A complete tiny X-CLIP checkpoint: `config.json`, `model.safetensors`, `preprocessor_config.json`; deterministic from `seed`. */
export function makeTinyXClip(o: TinyXClipOptions = {}): Map<string, Uint8Array> {
  const enc = new TextEncoder();
  const json = (v: unknown) => enc.encode(JSON.stringify(v, null, 2) + '\n');
  return new Map([
    ['config.json', json(tinyXClipConfigJSON(o))],
    ['model.safetensors', serializeSafetensors(randomXClipWeights(o), { format: 'pt' })],
    ['preprocessor_config.json', json(tinyXClipPreprocessorJSON(sizes(o).imageSize))],
  ]);
}
