/**
 * Tiny random CLIP vision checkpoints in real Hugging Face format (`CLIPVisionModel.save_pretrained` plus the
 * `CLIPImageProcessor` config), for tests and `make-tiny --arch clip-vision`. Python's
 * `CLIPVisionModel.from_pretrained(dir)` and `CLIPImageProcessor.from_pretrained(dir)` load the folder as is.
 */
import { Rng } from '../util/rng.js';
import { float32ToRaw, serializeSafetensors, type RawTensor } from '../io/safetensors.js';

/** Sizes of the tiny tower; defaults give 16 patches of 8×8 on a 32×32 image. */
export interface TinyClipVisionOptions {
  imageSize?: number;
  patchSize?: number;
  hiddenSize?: number;
  layers?: number;
  heads?: number;
  intermediate?: number;
  hiddenAct?: string;
  seed?: number;
}

/** OpenAI CLIP's normalisation constants, which every CLIP-based LLaVA uses. */
export const OPENAI_CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073];
export const OPENAI_CLIP_STD = [0.26862954, 0.26130258, 0.27577711];

function sizes(o: TinyClipVisionOptions) {
  return {
    imageSize: o.imageSize ?? 32,
    patchSize: o.patchSize ?? 8,
    hiddenSize: o.hiddenSize ?? 32,
    layers: o.layers ?? 2,
    heads: o.heads ?? 2,
    intermediate: o.intermediate ?? 64,
    hiddenAct: o.hiddenAct ?? 'quick_gelu',
  };
}

/** The `config.json` of a `CLIPVisionModel` with the fields transformers writes. */
export function tinyClipVisionConfigJSON(o: TinyClipVisionOptions = {}): Record<string, unknown> {
  const s = sizes(o);
  return {
    architectures: ['CLIPVisionModel'],
    attention_dropout: 0.0,
    dropout: 0.0,
    hidden_act: s.hiddenAct,
    hidden_size: s.hiddenSize,
    image_size: s.imageSize,
    initializer_factor: 1.0,
    initializer_range: 0.02,
    intermediate_size: s.intermediate,
    layer_norm_eps: 1e-5,
    model_type: 'clip_vision_model',
    num_attention_heads: s.heads,
    num_channels: 3,
    num_hidden_layers: s.layers,
    patch_size: s.patchSize,
    projection_dim: s.hiddenSize,
    torch_dtype: 'float32',
    transformers_version: '4.44.0',
  };
}

/** The `preprocessor_config.json` of a `CLIPImageProcessor` at `imageSize` (bicubic, OpenAI mean/std). */
export function tinyClipPreprocessorJSON(imageSize = 32): Record<string, unknown> {
  return {
    crop_size: { height: imageSize, width: imageSize },
    do_center_crop: true,
    do_convert_rgb: true,
    do_normalize: true,
    do_rescale: true,
    do_resize: true,
    image_mean: OPENAI_CLIP_MEAN,
    image_processor_type: 'CLIPImageProcessor',
    image_std: OPENAI_CLIP_STD,
    resample: 3,
    rescale_factor: 1 / 255,
    size: { shortest_edge: imageSize },
  };
}

/**
 * Random weights named as `CLIPVisionModel` saves them (`vision_model.` prefix). Scales keep activations O(1)
 * through the layers, and the norms' weights/biases are perturbed away from 1/0 so that a swapped weight and
 * bias, or a skipped norm, changes the output (a reference test would otherwise miss it).
 */
export function randomClipVisionWeights(o: TinyClipVisionOptions = {}): Map<string, RawTensor> {
  const s = sizes(o);
  const rng = new Rng(o.seed ?? 0);
  const out = new Map<string, RawTensor>();
  const put = (name: string, shape: number[], f: () => number) => {
    const a = new Float32Array(shape.reduce((x, y) => x * y, 1));
    for (let i = 0; i < a.length; i++) a[i] = f();
    out.set(`vision_model.${name}`, float32ToRaw(a, shape, 'F32'));
  };
  const normal = (std: number) => () => rng.normal() * std;
  const d = s.hiddenSize;
  const grid = s.imageSize / s.patchSize;
  if (!Number.isInteger(grid)) throw new Error(`imageSize ${s.imageSize} must be a multiple of patchSize ${s.patchSize}`);
  const ln = (name: string) => {
    put(`${name}.weight`, [d], () => 1 + rng.normal() * 0.1);
    put(`${name}.bias`, [d], normal(0.1));
  };
  const linear = (name: string, outF: number, inF: number) => {
    put(`${name}.weight`, [outF, inF], normal(1 / Math.sqrt(inF)));
    put(`${name}.bias`, [outF], normal(0.05));
  };
  put('embeddings.class_embedding', [d], normal(1));
  put('embeddings.patch_embedding.weight', [d, 3, s.patchSize, s.patchSize], normal(1 / Math.sqrt(3 * s.patchSize ** 2)));
  put('embeddings.position_embedding.weight', [grid * grid + 1, d], normal(0.5));
  ln('pre_layrnorm');
  for (let i = 0; i < s.layers; i++) {
    const p = `encoder.layers.${i}`;
    for (const proj of ['k_proj', 'v_proj', 'q_proj', 'out_proj']) linear(`${p}.self_attn.${proj}`, d, d);
    ln(`${p}.layer_norm1`);
    linear(`${p}.mlp.fc1`, s.intermediate, d);
    linear(`${p}.mlp.fc2`, d, s.intermediate);
    ln(`${p}.layer_norm2`);
  }
  ln('post_layernorm');
  return out;
}

/**
 * A complete tiny CLIP vision checkpoint: `config.json`, `model.safetensors`, `preprocessor_config.json`.
 * Deterministic from `seed` (the reference fixture in `test/fixtures/clip-vision-ref.json` depends on it).
 */
export function makeTinyClipVision(o: TinyClipVisionOptions = {}): Map<string, Uint8Array> {
  const enc = new TextEncoder();
  const json = (v: unknown) => enc.encode(JSON.stringify(v, null, 2) + '\n');
  return new Map([
    ['config.json', json(tinyClipVisionConfigJSON(o))],
    ['model.safetensors', serializeSafetensors(randomClipVisionWeights(o), { format: 'pt' })],
    ['preprocessor_config.json', json(tinyClipPreprocessorJSON(sizes(o).imageSize))],
  ]);
}
