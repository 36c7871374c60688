/**
 * CLIP image preprocessing — resize the shortest edge, center-crop, rescale, normalise — with the numbers of
 * Hugging Face's Python `CLIPImageProcessor`, which every CLIP-based checkpoint was trained behind.
 *
 * The config is read from the checkpoint's `preprocessor_config.json` and handed to transformers.js's
 * `CLIPImageProcessor` (colour conversion, rescale, normalise, CHW layout). Two things are ours, both so the
 * result matches Python and is the same in Node and the browser:
 * - missing fields get Python's `CLIPImageProcessor` defaults, and an integer `size` means `shortest_edge` (as
 *   `get_size_dict(default_to_square=False)` reads it; transformers.js would fit the *longest* edge instead, which
 *   changes every non-square image of e.g. openai/clip-vit-large-patch14-336);
 * - resize and crop: Pillow's bicubic (see `src/media/pil-resize.ts`) and Python's integer crop offsets and zero padding.
 */
import type { RawImage, CLIPImageProcessor } from '@huggingface/transformers';
import { joinLocation, readJSON, type ModelSource } from '../../io/source.js';
import { loadTransformers } from '../../media/image-input.js';
import { resizePIL, type PilResample } from '../../media/pil-resize.js';

/** The fields of `preprocessor_config.json` that CLIP preprocessing uses, after defaults. */
export interface ClipPreprocessorConfig {
  do_resize: boolean;
  size: { shortest_edge: number } | { height: number; width: number };
  resample: PilResample;
  do_center_crop: boolean;
  crop_size: { height: number; width: number };
  do_rescale: boolean;
  rescale_factor: number;
  do_normalize: boolean;
  image_mean: number[];
  image_std: number[];
  do_convert_rgb: boolean;
}

const PYTHON_DEFAULTS: ClipPreprocessorConfig = {
  do_resize: true,
  size: { shortest_edge: 224 },
  resample: 3,
  do_center_crop: true,
  crop_size: { height: 224, width: 224 },
  do_rescale: true,
  rescale_factor: 1 / 255,
  do_normalize: true,
  image_mean: [0.48145466, 0.4578275, 0.40821073],
  image_std: [0.26862954, 0.26130258, 0.27577711],
  do_convert_rgb: true,
};

/** Applies Python's defaults and size conventions to a parsed `preprocessor_config.json`. */
export function normalizeClipPreprocessorConfig(json: Record<string, unknown>, where = 'preprocessor_config.json'): ClipPreprocessorConfig {
  const c = { ...PYTHON_DEFAULTS };
  const bool = (k: keyof ClipPreprocessorConfig) => {
    if (typeof json[k] === 'boolean') (c as unknown as Record<string, unknown>)[k] = json[k];
  };
  (['do_resize', 'do_center_crop', 'do_rescale', 'do_normalize', 'do_convert_rgb'] as const).forEach(bool);
  const bad = (k: string) => new Error(`${where}: unsupported "${k}": ${JSON.stringify(json[k])}`);
  const size = json.size;
  if (typeof size === 'number') c.size = { shortest_edge: size };
  else if (size && typeof size === 'object') {
    const s = size as Record<string, unknown>;
    if (typeof s.shortest_edge === 'number') c.size = { shortest_edge: s.shortest_edge };
    else if (typeof s.height === 'number' && typeof s.width === 'number') c.size = { height: s.height, width: s.width };
    else throw bad('size');
  } else if (size !== undefined) throw bad('size');
  const crop = json.crop_size;
  if (typeof crop === 'number') c.crop_size = { height: crop, width: crop };
  else if (crop && typeof crop === 'object') {
    const s = crop as Record<string, unknown>;
    if (typeof s.height !== 'number' || typeof s.width !== 'number') throw bad('crop_size');
    c.crop_size = { height: s.height, width: s.width };
  } else if (crop !== undefined) throw bad('crop_size');
  if (json.resample !== undefined) {
    if (!([0, 1, 2, 3, 4, 5] as unknown[]).includes(json.resample)) throw bad('resample');
    c.resample = json.resample as PilResample;
  }
  if (typeof json.rescale_factor === 'number') c.rescale_factor = json.rescale_factor;
  for (const k of ['image_mean', 'image_std'] as const) {
    const v = json[k];
    if (typeof v === 'number') c[k] = [v, v, v];
    else if (Array.isArray(v) && v.length === 3 && v.every((x) => typeof x === 'number')) c[k] = v as number[];
    else if (v !== undefined) throw bad(k);
  }
  return c;
}

/** Python's `get_resize_output_image_size(default_to_square=False)`: `[width, height]` after the resize. */
export function clipResizeSize(c: ClipPreprocessorConfig, width: number, height: number): [number, number] {
  if (!('shortest_edge' in c.size)) return [c.size.width, c.size.height];
  const se = c.size.shortest_edge;
  const [short, long] = width <= height ? [width, height] : [height, width];
  const newLong = Math.trunc((se * long) / short);
  return width <= height ? [se, newLong] : [newLong, se];
}

/** Python's `center_crop`: floor offsets; an image smaller than the crop is padded with zeros (black). */
function centerCrop(img: RawImage, cw: number, ch: number, make: (d: Uint8ClampedArray, w: number, h: number) => RawImage): RawImage {
  if (img.width === cw && img.height === ch) return img;
  const c = img.channels;
  const top = Math.floor((img.height - ch) / 2);
  const left = Math.floor((img.width - cw) / 2);
  const out = new Uint8ClampedArray(cw * ch * c);
  for (let y = 0; y < ch; y++) {
    const sy = y + top;
    if (sy < 0 || sy >= img.height) continue;
    for (let x = 0; x < cw; x++) {
      const sx = x + left;
      if (sx < 0 || sx >= img.width) continue;
      for (let k = 0; k < c; k++) out[(y * cw + x) * c + k] = img.data[(sy * img.width + sx) * c + k]!;
    }
  }
  return make(out, cw, ch);
}

/** RGB copy of an image with 1-4 channels (grey → RGB, alpha dropped as Pillow's `convert("RGB")` does). */
export function toRGB(img: RawImage, make: (d: Uint8ClampedArray, w: number, h: number) => RawImage): RawImage {
  if (img.channels === 3) return img;
  const n = img.width * img.height;
  const out = new Uint8ClampedArray(n * 3);
  const c = img.channels;
  for (let i = 0; i < n; i++) {
    const grey = c <= 2;
    for (let k = 0; k < 3; k++) out[i * 3 + k] = img.data[i * c + (grey ? 0 : k)]!;
  }
  return make(out, img.width, img.height);
}

/**
 * The seed's `_expand2square`: pads a non-square RGB image to a square with `background` (0-255 per channel),
 * the image centred (offset floored) along the padded axis.
 */
export function expandToSquare(img: RawImage, background: number[], make: (d: Uint8ClampedArray, w: number, h: number) => RawImage): RawImage {
  const { width: w, height: h } = img;
  if (w === h) return img;
  const s = Math.max(w, h);
  const out = new Uint8ClampedArray(s * s * 3);
  for (let i = 0; i < s * s; i++) out.set(background, i * 3);
  const ox = Math.floor((s - w) / 2);
  const oy = Math.floor((s - h) / 2);
  for (let y = 0; y < h; y++) out.set(img.data.subarray(y * w * 3, (y + 1) * w * 3), ((y + oy) * s + ox) * 3);
  return make(out, s, s);
}

/** A CLIP image preprocessor for one checkpoint. */
export class ClipImagePreprocessor {
  private constructor(
    readonly config: ClipPreprocessorConfig,
    /** `preprocessor_config.json` as given (another thread rebuilds the same processor from it). */
    readonly json: Record<string, unknown>,
    private readonly processor: CLIPImageProcessor,
    private readonly make: (d: Uint8ClampedArray, w: number, h: number) => RawImage,
  ) {}

  /** From a parsed `preprocessor_config.json`. */
  static async fromConfig(json: Record<string, unknown>, where?: string): Promise<ClipImagePreprocessor> {
    const config = normalizeClipPreprocessorConfig(json, where);
    const T = await loadTransformers();
    const make = (d: Uint8ClampedArray, w: number, h: number) => new T.RawImage(d, w, h, 3);
    // transformers.js does colour conversion, rescale, normalisation and layout; resize and crop are ours.
    class PillowCLIPImageProcessor extends T.CLIPImageProcessor {
      override async resize(image: RawImage): Promise<RawImage> {
        const [w, h] = clipResizeSize(config, image.width, image.height);
        const resized = w === image.width && h === image.height ? image : make(resizePIL(image.data, image.width, image.height, 3, w, h, config.resample), w, h);
        // Cropping here leaves the processor's own `center_crop` (sharp/canvas) with nothing to do.
        return config.do_center_crop ? centerCrop(resized, config.crop_size.width, config.crop_size.height, make) : resized;
      }
    }
    // The typings list only some fields; the class reads the rest (`crop_size`, `do_center_crop`) from the same object.
    const processor = new PillowCLIPImageProcessor({ ...json, ...config } as ConstructorParameters<typeof T.CLIPImageProcessor>[0]);
    return new ClipImagePreprocessor(config, json, processor, make);
  }

  /** Reads `preprocessor_config.json` from a checkpoint; a missing file is an error naming where it was looked for. */
  static async load(source: ModelSource): Promise<ClipImagePreprocessor> {
    const where = joinLocation(source.location, 'preprocessor_config.json');
    if (!(await source.exists('preprocessor_config.json'))) {
      throw new Error(`missing ${where}: a CLIP encoder folder needs its CLIPImageProcessor config (save it with processor.save_pretrained)`);
    }
    return ClipImagePreprocessor.fromConfig(await readJSON<Record<string, unknown>>(source, 'preprocessor_config.json'), where);
  }

  /** Output `[height, width]` of every image. */
  get outputSize(): [number, number] {
    if (this.config.do_center_crop) return [this.config.crop_size.height, this.config.crop_size.width];
    if ('height' in this.config.size) return [this.config.size.height, this.config.size.width];
    throw new Error('preprocessor_config.json resizes by shortest edge without a center crop: images would differ in size');
  }

  /** The padding colour of `padToSquare`, as the seed computes it: `int(mean · 255)` per channel. */
  get padColor(): number[] {
    return this.config.image_mean.map((m) => Math.trunc(m * 255));
  }

  /** Preprocesses one image to CLIP pixel values `[3, H, W]` (channel-major, normalised). */
  async pixelValues(image: RawImage, opts: { padToSquare?: boolean } = {}): Promise<Float32Array> {
    let img = toRGB(image, this.make);
    if (opts.padToSquare) img = expandToSquare(img, this.padColor, this.make);
    if (!this.config.do_resize && this.config.do_center_crop) {
      img = centerCrop(img, this.config.crop_size.width, this.config.crop_size.height, this.make);
    }
    const { pixel_values } = await this.processor.preprocess(img);
    return pixel_values.data as Float32Array;
  }
}
