/**
 * The seed's `video_xclip` modality: a video as `numTokens` (10) LM tokens from X-CLIP's video embedding
 * (`XCLIPModel(...).video_embeds`, `projection_dim` = 512 for microsoft/xclip-base-patch32) through a 2-layer
 * vector projector, token `<video>`, data key `videos`.
 *
 * Each video becomes exactly the model's `num_frames` frames (8 for the base models): a video file (or a
 * `{path|url, start_time, end_time}` clip) is sampled evenly over its length; a list of frames is thinned or, if
 * shorter, repeated evenly. (The seed decodes 8 consecutive frames from a random position; evenly spaced frames
 * cover the whole clip and are deterministic, so training is reproducible.) Frames are preprocessed as
 * `XCLIPProcessor` does (VideoMAE image processor: short side resize, centre crop, normalisation from the
 * checkpoint's `preprocessor_config.json`, Pillow's filters).
 */
import { tf, type Tensor } from '../../tf.js';
import type { ModelSource } from '../../io/source.js';
import { joinLocation, readJSON } from '../../io/source.js';
import { XCLIPVideoEncoder } from '../../encoders/xclip-video.js';
import type { ProjectorSpec } from '../../projector/index.js';
import type { Modality, ModalityConfig } from '../modality.js';
import type { BuildContext } from '../registry.js';
import { ClipImagePreprocessor } from '../vision-clip/clip-preprocess.js';
import { itemError, type ImageInput, type ImageLoadContext } from '../../media/image-input.js';
import { openEncoderSource } from '../encoder-location.js';
import { preprocessImages, type PixelBatch } from '../vision-clip/vision-clip.js';
import { resampleFrames } from '../../media/video-sampling.js';
import { decodeVideoFrames, type VideoFrameDecoder } from '../../media/video-frames.js';

export interface XClipVideoOptions {
  /** The X-CLIP checkpoint (folder, URL or Hugging Face id; default microsoft/xclip-base-patch32), or a source. */
  encoder: ModelSource | string;
  /** LM tokens per video. Default 10, as the seed. */
  numTokens?: number;
  /** Projector depth. Default 2. */
  projectorLayers?: number;
  /** Videos per encoder forward pass. Default 2. */
  batchSize?: number;
  decoder?: VideoFrameDecoder;
  name?: string;
  token?: string;
  dataKey?: string;
}

/** One row's videos: `count` videos × `numFrames` frames, back to back. */
export interface XClipVideoBatch {
  frames: PixelBatch;
  videos: number;
}

/** VideoMAE's image-processor defaults (IMAGENET_STANDARD mean/std, bilinear), for fields a config leaves out. */
const VIDEOMAE_DEFAULTS = { size: 224, crop_size: 224, resample: 2, image_mean: [0.5, 0.5, 0.5], image_std: [0.5, 0.5, 0.5] };

export class XClipVideoModality implements Modality<XClipVideoBatch> {
  readonly name: string;
  readonly token: string;
  readonly dataKey: string;
  readonly tokenWidth: number;
  readonly projectorSpec: ProjectorSpec;

  constructor(
    readonly encoder: XCLIPVideoEncoder,
    readonly processor: ClipImagePreprocessor,
    readonly options: XClipVideoOptions,
  ) {
    this.name = options.name ?? 'video_xclip';
    this.token = options.token ?? '<video>';
    this.dataKey = options.dataKey ?? 'videos';
    this.tokenWidth = options.numTokens ?? 10;
    this.projectorSpec = { type: 'vector_mlp', inputSize: encoder.embedDim, layers: options.projectorLayers ?? 2, numTokens: this.tokenWidth };
    const [h, w] = processor.outputSize;
    if (h !== encoder.imageSize || w !== encoder.imageSize) {
      throw new Error(`video_xclip: the image processor makes ${w}×${h} frames but the encoder expects ${encoder.imageSize}×${encoder.imageSize}`);
    }
  }

  static async create(options: XClipVideoOptions, ctx: Pick<BuildContext, 'source' | 'open'> = {}): Promise<XClipVideoModality> {
    const source = typeof options.encoder === 'string' ? await openEncoderSource(options.encoder, ctx, 'config.json') : options.encoder;
    const where = joinLocation(source.location, 'preprocessor_config.json');
    if (!(await source.exists('preprocessor_config.json'))) throw new Error(`missing ${where}: an X-CLIP folder needs its XCLIPProcessor config`);
    const json = await readJSON<Record<string, unknown>>(source, 'preprocessor_config.json');
    const processor = await ClipImagePreprocessor.fromConfig({ ...VIDEOMAE_DEFAULTS, ...json }, where);
    const encoder = await XCLIPVideoEncoder.load(source);
    try {
      return new XClipVideoModality(encoder, processor, options);
    } catch (e) {
      encoder.dispose();
      throw e;
    }
  }

  get numFrames(): number {
    return this.encoder.numFrames;
  }

  private async frames(video: unknown, ctx: ImageLoadContext, where: string): Promise<ImageInput[]> {
    if (Array.isArray(video)) {
      if (video.length === 0) throw itemError(ctx, where, 'is an empty list of frames');
      return resampleFrames(video as ImageInput[], this.numFrames);
    }
    try {
      const frames = await (this.options.decoder ?? decodeVideoFrames)(video, this.numFrames, ctx);
      if (frames.length === 0) throw new Error('no frames could be decoded');
      return resampleFrames(frames, this.numFrames);
    } catch (e) {
      throw itemError(ctx, where, (e as Error).message);
    }
  }

  async preprocess(values: unknown[], ctx: ImageLoadContext = {}): Promise<XClipVideoBatch> {
    const perVideo = await Promise.all(
      values.map(async (v, i) => {
        const where = `${this.dataKey}[${i}]`;
        return preprocessImages(await this.frames(v, ctx, where), this.processor, ctx, where, false);
      }),
    );
    const [height, width] = this.processor.outputSize;
    const count = perVideo.reduce((s, b) => s + b.count, 0);
    const pixels = new Float32Array(count * 3 * height * width);
    let at = 0;
    for (const b of perVideo) {
      pixels.set(b.pixels, at);
      at += b.pixels.length;
    }
    return { frames: { count, height, width, pixels }, videos: values.length };
  }

  /** One `[videos, 1, projection_dim]` tensor per row. */
  async encode(rows: XClipVideoBatch[]): Promise<Tensor[]> {
    const p = this.encoder.embedDim;
    const t = this.numFrames;
    const batch = this.options.batchSize ?? 2;
    return rows.map((r) => {
      if (r.videos === 0) return tf.zeros([0, 1, p]);
      const { height: h, width: w, pixels } = r.frames;
      const size = 3 * h * w * t;
      const parts: Tensor[] = [];
      for (let v = 0; v < r.videos; v += batch) {
        const n = Math.min(batch, r.videos - v);
        parts.push(tf.tidy(() => this.encoder.forward(tf.tensor4d(pixels.subarray(v * size, (v + n) * size), [n * t, 3, h, w]))));
      }
      const out = tf.tidy(() => (parts.length === 1 ? parts[0]! : tf.concat(parts, 0)).reshape([r.videos, 1, p]));
      for (const x of parts) x.dispose();
      return out;
    });
  }

  toConfig(): ModalityConfig {
    return {
      kind: 'video_xclip',
      name: this.name,
      token: this.token,
      dataKey: this.dataKey,
      encoder: typeof this.options.encoder === 'string' ? this.options.encoder : this.options.encoder.location,
      numTokens: this.tokenWidth,
      projectorLayers: this.projectorSpec.layers,
    };
  }

  dispose(): void {
    this.encoder.dispose();
  }
}
