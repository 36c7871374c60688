import { tf, type Tensor } from '../../tf.js';
import type { ModelSource } from '../../io/source.js';
import { serializeSafetensors, type RawTensor } from '../../io/safetensors.js';
import { tensorToRaw } from '../../io/weights.js';
import { CLIPVisionEncoder } from '../../encoders/clip-vision.js';
import type { ProjectorSpec } from '../../projector/index.js';
import type { Modality, ModalityConfig } from '../modality.js';
import type { BuildContext } from '../registry.js';
import { ClipImagePreprocessor } from './clip-preprocess.js';
import { itemError, loadImage, type ImageLoadContext } from '../../media/image-input.js';
import { openEncoderSource } from '../encoder-location.js';
import { preparedAs } from '../../media/prepared-item.js';

/** Which CLIP output feeds the projector: a hidden state (HF index, LLaVA uses −2) or the pooled embedding. */
export type ClipFeatureLayer = number | 'pooled';

/** Options of the `vision_clip` / `vision_clip_pool` modalities (what config.json stores). */
export interface VisionClipOptions {
  /** The CLIP folder or URL (`config.json`, weights, `preprocessor_config.json`), or a source. */
  encoder: ModelSource | string;
  /** Pad non-square images to a square of the mean colour first (the seed's `pad_non_square_images`). */
  padToSquare?: boolean;
  /** Projector depth (1 = linear, 2 = LLaVA-1.5's mlp2x_gelu). Default 2. */
  projectorLayers?: number;
  /** LM tokens per image for `'pooled'` features (vector projector). Default 10. */
  numTokens?: number;
  /** Default −2: patch features of the second-to-last layer, CLS dropped (LLaVA). `'pooled'`: CLIP's pooled output. */
  featureLayer?: ClipFeatureLayer;
  /** Images per encoder forward pass; bounds memory. Default 8. */
  batchSize?: number;
  name?: string;
  token?: string;
  dataKey?: string;
}

/** Preprocessed images of one row: `count` images of `[3, height, width]` pixel values, back to back. */
export interface PixelBatch {
  count: number;
  height: number;
  width: number;
  pixels: Float32Array;
}

/** Loads and preprocesses one row's image items; errors name the item (`images[1]`) and the row. */
export async function preprocessImages(
  values: unknown[],
  processor: ClipImagePreprocessor,
  ctx: ImageLoadContext | undefined,
  dataKey: string,
  padToSquare: boolean,
): Promise<PixelBatch> {
  const [height, width] = processor.outputSize;
  const size = 3 * height * width;
  const pixels = new Float32Array(values.length * size);
  await Promise.all(
    values.map(async (v, i) => {
      const prepared = preparedAs(v, 'clip-pixels', size);
      if (prepared) return pixels.set(prepared.data, i * size);
      const where = `${dataKey}[${i}]`;
      const image = await loadImage(v, ctx, where);
      let px: Float32Array;
      try {
        px = await processor.pixelValues(image, { padToSquare });
      } catch (e) {
        throw itemError(ctx, where, `could not preprocess image: ${(e as Error).message}`);
      }
      pixels.set(px, i * size);
    }),
  );
  return { count: values.length, height, width, pixels };
}

/**
 * Runs `fn` over all rows' images in chunks of `batchSize` and returns one tensor per row, `[count, ...]`.
 * Chunking bounds the attention memory (`[n, heads, 577, 577]` per layer for ViT-L/336).
 */
export function encodeInChunks(rows: PixelBatch[], batchSize: number, fn: (pixels: Tensor) => Tensor, emptyShape: number[]): Tensor[] {
  const total = rows.reduce((s, r) => s + r.count, 0);
  if (total === 0) return rows.map(() => tf.zeros([0, ...emptyShape]));
  const { height, width } = rows.find((r) => r.count > 0)!;
  const size = 3 * height * width;
  const all = new Float32Array(total * size);
  let at = 0;
  for (const r of rows) {
    all.set(r.pixels.subarray(0, r.count * size), at * size);
    at += r.count;
  }
  const parts: Tensor[] = [];
  for (let s = 0; s < total; s += batchSize) {
    const n = Math.min(batchSize, total - s);
    parts.push(tf.tidy(() => fn(tf.tensor4d(all.subarray(s * size, (s + n) * size), [n, 3, height, width]))));
  }
  const out = tf.tidy(() => tf.split(parts.length === 1 ? parts[0]! : tf.concat(parts, 0), rows.map((r) => r.count), 0));
  for (const t of parts) t.dispose();
  return out;
}

/**
 * CLIP images as LM tokens (the seed's `CLIPVisionModality`). With patch features (default, `vision_clip`) each
 * image becomes `(image_size / patch_size)²` tokens through an MLP applied per patch — LLaVA-1.5. With pooled
 * features (`vision_clip_pool`) each image's pooled embedding becomes `numTokens` tokens through a vector projector.
 */
export class VisionClipModality implements Modality<PixelBatch> {
  readonly name: string;
  readonly token: string;
  readonly dataKey: string;
  readonly tokenWidth: number;
  readonly projectorSpec: ProjectorSpec;
  readonly featureLayer: ClipFeatureLayer;
  /** Where the encoder was loaded from (its config files are copied when a finetuned encoder is saved). */
  encoderSource: ModelSource | null = null;

  constructor(
    readonly encoder: CLIPVisionEncoder,
    readonly processor: ClipImagePreprocessor,
    readonly options: VisionClipOptions,
  ) {
    this.featureLayer = options.featureLayer ?? -2;
    const pooled = this.featureLayer === 'pooled';
    const states = encoder.layers.length + 1;
    if (!pooled && !(Number.isInteger(this.featureLayer) && (this.featureLayer as number) >= -states && (this.featureLayer as number) < states)) {
      throw new Error(`vision_clip: featureLayer must be "pooled" or a hidden-state index in [${-states}, ${states - 1}], got ${JSON.stringify(this.featureLayer)}`);
    }
    this.name = options.name ?? 'vision_clip';
    this.token = options.token ?? '<image>';
    this.dataKey = options.dataKey ?? 'images';
    const layers = options.projectorLayers ?? 2;
    const d = encoder.hiddenSize;
    const [h, w] = processor.outputSize;
    if (h !== encoder.imageSize || w !== encoder.imageSize) {
      throw new Error(`vision_clip: the image processor makes ${w}×${h} images but the encoder expects ${encoder.imageSize}×${encoder.imageSize}`);
    }
    if (pooled) {
      this.tokenWidth = options.numTokens ?? 10;
      this.projectorSpec = { type: 'vector_mlp', inputSize: d, layers, numTokens: this.tokenWidth };
    } else {
      this.tokenWidth = encoder.numPatches;
      this.projectorSpec = { type: 'patch_mlp', inputSize: d, layers };
    }
  }

  /** Loads the encoder and its image processor, resolving `options.encoder` against the build context. */
  static async create(options: VisionClipOptions, ctx: Pick<BuildContext, 'source' | 'open'> = {}): Promise<VisionClipModality> {
    const source = typeof options.encoder === 'string' ? await openEncoderSource(options.encoder, ctx, 'config.json') : options.encoder;
    const processor = await ClipImagePreprocessor.load(source);
    const encoder = await CLIPVisionEncoder.load(source);
    try {
      const m = new VisionClipModality(encoder, processor, options);
      m.encoderSource = source;
      return m;
    } catch (e) {
      encoder.dispose();
      throw e;
    }
  }

  preprocess(values: unknown[], ctx?: ImageLoadContext): Promise<PixelBatch> {
    return preprocessImages(values, this.processor, ctx, this.dataKey, this.options.padToSquare ?? false);
  }

  /** One `[images, tokenWidth-or-1, hidden]` tensor per row (`[images, patches, hidden]` or `[images, 1, hidden]`). */
  async encode(rows: PixelBatch[]): Promise<Tensor[]> {
    return this.encodeSync(rows);
  }

  /** `encode` without the promise: lets a trainer run the encoder inside its gradient tape. */
  encodeSync(rows: PixelBatch[]): Tensor[] {
    const d = this.encoder.hiddenSize;
    const layer = this.featureLayer;
    if (layer === 'pooled') {
      return encodeInChunks(rows, this.options.batchSize ?? 8, (x) => {
        const pooled = this.encoder.forward(x);
        pooled.lastHiddenState.dispose();
        return pooled.pooled.reshape([x.shape[0], 1, d]);
      }, [1, d]);
    }
    const p = this.encoder.numPatches;
    return encodeInChunks(rows, this.options.batchSize ?? 8, (x) => {
      // Drop CLS (token 0): LLaVA feeds only the patch tokens.
      return this.encoder.hiddenState(x, layer).slice([0, 1, 0], [x.shape[0], p, d]);
    }, [p, d]);
  }

  encoderParameters(): Map<string, tf.Variable> {
    return this.encoder.parameters();
  }

  async exportEncoder(): Promise<Map<string, Uint8Array | string>> {
    const files = new Map<string, Uint8Array | string>();
    if (this.encoderSource) {
      for (const name of ['config.json', 'preprocessor_config.json']) files.set(name, await this.encoderSource.readFile(name));
    }
    const raw = new Map<string, RawTensor>();
    const state = this.encoder.stateDict();
    for (const [k, t] of state) raw.set(k, await tensorToRaw(t));
    const params = new Set<Tensor>(this.encoder.parameters().values());
    for (const t of state.values()) if (!params.has(t)) t.dispose();
    files.set('model.safetensors', serializeSafetensors(raw, { format: 'pt' }));
    return files;
  }

  toConfig(): ModalityConfig {
    const pooled = this.featureLayer === 'pooled';
    return {
      kind: pooled ? 'vision_clip_pool' : 'vision_clip',
      name: this.name,
      token: this.token,
      dataKey: this.dataKey,
      encoder: typeof this.options.encoder === 'string' ? this.options.encoder : this.options.encoder.location,
      padToSquare: this.options.padToSquare ?? false,
      projectorLayers: this.projectorSpec.layers,
      featureLayer: this.featureLayer,
      ...(pooled ? { numTokens: this.tokenWidth } : {}),
    };
  }

  dispose(): void {
    this.encoder.dispose();
  }
}
