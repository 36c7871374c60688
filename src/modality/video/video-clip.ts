import { tf, type Tensor } from '../../tf.js';
import type { ModelSource } from '../../io/source.js';
import { CLIPVisionEncoder } from '../../encoders/clip-vision.js';
import type { ProjectorSpec } from '../../projector/index.js';
import type { Modality, ModalityConfig } from '../modality.js';
import type { BuildContext } from '../registry.js';
import { ClipImagePreprocessor } from '../vision-clip/clip-preprocess.js';
import { itemError, type ImageInput, type ImageLoadContext } from '../../media/image-input.js';
import { openEncoderSource } from '../encoder-location.js';
import { encodeInChunks, preprocessImages, type PixelBatch } from '../vision-clip/vision-clip.js';
import { decodeVideoFrames, type VideoFrameDecoder } from '../../media/video-frames.js';
import { sampleEvenly } from '../../media/video-sampling.js';
import { preparedAs } from '../../media/prepared-item.js';

/** Options of the `video_clip` modality (what config.json stores, plus an optional decoder). */
export interface VideoClipOptions {
  /** The CLIP folder or URL (`config.json`, weights, `preprocessor_config.json`), or a source. */
  encoder: ModelSource | string;
  /** Frames sampled per video (evenly; a longer frame list is thinned to this). Default 8, as the seed. */
  numFrames?: number;
  /** LM tokens per video. Default 10, as the seed's `video_xclip`. */
  numTokens?: number;
  /** Projector depth. Default 2. */
  projectorLayers?: number;
  /** Frames per encoder forward pass. Default 8. */
  batchSize?: number;
  /** Decodes video files; default: the platform's (see `configurePlatform`). */
  decoder?: VideoFrameDecoder;
  name?: string;
  token?: string;
  dataKey?: string;
}

/** One row's videos: all frames back to back, and how many belong to each video. */
export interface VideoBatch {
  frames: PixelBatch;
  framesPerVideo: number[];
}

/**
 * Videos as LM tokens: CLIP's pooled embedding of each sampled frame, averaged over time, then a vector
 * projector to `numTokens` tokens. A video item is a list of frames (any image items) or a video file/URL,
 * decoded to `numFrames` evenly spaced frames (ffmpeg in Node, `<video>` in the browser).
 */
export class VideoClipModality implements Modality<VideoBatch> {
  readonly name: string;
  readonly token: string;
  readonly dataKey: string;
  readonly tokenWidth: number;
  readonly projectorSpec: ProjectorSpec;
  readonly numFrames: number;

  constructor(
    readonly encoder: CLIPVisionEncoder,
    readonly processor: ClipImagePreprocessor,
    readonly options: VideoClipOptions,
  ) {
    this.name = options.name ?? 'video_clip';
    this.token = options.token ?? '<video>';
    this.dataKey = options.dataKey ?? 'videos';
    this.numFrames = options.numFrames ?? 8;
    if (!Number.isInteger(this.numFrames) || this.numFrames < 1) throw new Error('video_clip: numFrames must be a positive integer');
    this.tokenWidth = options.numTokens ?? 10;
    this.projectorSpec = { type: 'vector_mlp', inputSize: encoder.hiddenSize, layers: options.projectorLayers ?? 2, numTokens: this.tokenWidth };
  }

  /** Loads the CLIP encoder and image processor, resolving `options.encoder` against the build context. */
  static async create(options: VideoClipOptions, ctx: Pick<BuildContext, 'source' | 'open'> = {}): Promise<VideoClipModality> {
    const source = typeof options.encoder === 'string' ? await openEncoderSource(options.encoder, ctx, 'config.json') : options.encoder;
    const processor = await ClipImagePreprocessor.load(source);
    return new VideoClipModality(await CLIPVisionEncoder.load(source), processor, options);
  }

  /** Frames of one video item: a given list (thinned to `numFrames`) or decoded from a file/URL. */
  private async frames(video: unknown, ctx: ImageLoadContext, where: string): Promise<ImageInput[]> {
    if (Array.isArray(video)) {
      if (video.length === 0) throw itemError(ctx, where, 'is an empty list of frames');
      return sampleEvenly(video as ImageInput[], this.numFrames);
    }
    try {
      const frames = await (this.options.decoder ?? decodeVideoFrames)(video, this.numFrames, ctx);
      if (frames.length === 0) throw new Error('no frames could be decoded');
      return frames;
    } catch (e) {
      throw itemError(ctx, where, (e as Error).message);
    }
  }

  async preprocess(values: unknown[], ctx: ImageLoadContext = {}): Promise<VideoBatch> {
    const perVideo = await Promise.all(
      values.map(async (v, i) => {
        const [height, width] = this.processor.outputSize;
        const prepared = preparedAs(v, 'clip-video', 3 * height * width);
        if (prepared) return { count: prepared.count, height, width, pixels: prepared.data };
        const where = `${this.dataKey}[${i}]`;
        const frames = await this.frames(v, ctx, where);
        // Frame errors read "videos[1][3]: could not decode image …".
        return preprocessImages(frames, this.processor, ctx, where, false);
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
    return { frames: { count, height, width, pixels }, framesPerVideo: perVideo.map((b) => b.count) };
  }

  /** One `[videos, 1, hidden]` tensor per row: the time-averaged pooled CLIP embedding of each video. */
  async encode(rows: VideoBatch[]): Promise<Tensor[]> {
    const d = this.encoder.hiddenSize;
    const perRowFrames = encodeInChunks(rows.map((r) => r.frames), this.options.batchSize ?? 8, (x) => {
      const out = this.encoder.forward(x);
      out.lastHiddenState.dispose();
      return out.pooled;
    }, [d]);
    return rows.map((r, b) => {
      const frames = perRowFrames[b]!;
      const out = tf.tidy(() => {
        if (r.framesPerVideo.length === 0) return tf.zeros([0, 1, d]);
        const videos = tf.split(frames, r.framesPerVideo, 0).map((f) => tf.mean(f, 0, true));
        return tf.concat(videos, 0).reshape([r.framesPerVideo.length, 1, d]);
      });
      frames.dispose();
      return out;
    });
  }

  toConfig(): ModalityConfig {
    return {
      kind: 'video_clip',
      name: this.name,
      token: this.token,
      dataKey: this.dataKey,
      encoder: typeof this.options.encoder === 'string' ? this.options.encoder : this.options.encoder.location,
      numFrames: this.numFrames,
      numTokens: this.tokenWidth,
      projectorLayers: this.projectorSpec.layers,
    };
  }

  dispose(): void {
    this.encoder.dispose();
  }
}
