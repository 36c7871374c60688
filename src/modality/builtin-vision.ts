/**
 * Registers the CLIP-based modalities with the registry: builders `vision_clip` (LLaVA: patch tokens),
 * `vision_clip_pool` (pooled embedding → 10 tokens) and `video_clip` (per-frame CLIP, mean over time → 10 tokens),
 * and the kinds that rebuild them from a checkpoint's config.json. Importing this file is enough.
 *
 * Builders read the encoder location from `ctx.options.encoder` (a folder inside the checkpoint, another
 * folder, a URL or a Hugging Face id); without it they use the seed's default id (`DEFAULT_ENCODERS`).
 */
import { registerModalityBuilder, registerModalityKind, type BuildContext } from './registry.js';
import { VisionClipModality, type ClipFeatureLayer } from './vision-clip.js';
import { intOption, optionalString, type Options } from './option-readers.js';
import { VideoClipModality } from './video-clip.js';
import { encoderOption } from './default-encoders.js';

/** Defaults shared with the seed: 2-layer projectors, 10 tokens for pooled/video features, 8 frames. */
const DEFAULTS = { projectorLayers: 2, numTokens: 10, numFrames: 8, batchSize: 8 };

function encoderOf(o: Options, builder: string): string {
  return encoderOption(o, builder);
}

function featureLayerOf(o: Options, fallback: ClipFeatureLayer): ClipFeatureLayer {
  const v = o.featureLayer;
  if (v === undefined) return fallback;
  if (v === 'pooled' || (typeof v === 'number' && Number.isInteger(v))) return v;
  throw new Error(`vision_clip: option "featureLayer" must be an integer layer index or "pooled" (got ${JSON.stringify(v)})`);
}

function visionFrom(o: Options, ctx: BuildContext, pooledDefault: boolean): Promise<VisionClipModality> {
  const builder = pooledDefault ? 'vision_clip_pool' : 'vision_clip';
  const featureLayer = featureLayerOf(o, pooledDefault ? 'pooled' : -2);
  const padToSquare = o.padToSquare;
  if (padToSquare !== undefined && typeof padToSquare !== 'boolean') throw new Error(`${builder}: option "padToSquare" must be a boolean`);
  return VisionClipModality.create(
    {
      encoder: encoderOf(o, builder),
      padToSquare,
      projectorLayers: intOption(o, 'projectorLayers', builder, DEFAULTS.projectorLayers),
      numTokens: featureLayer === 'pooled' ? intOption(o, 'numTokens', builder, DEFAULTS.numTokens) : undefined,
      featureLayer,
      batchSize: intOption(o, 'batchSize', builder, DEFAULTS.batchSize),
      name: optionalString(o, 'name', builder),
      token: optionalString(o, 'token', builder),
      dataKey: optionalString(o, 'dataKey', builder),
    },
    ctx,
  );
}

function videoFrom(o: Options, ctx: BuildContext): Promise<VideoClipModality> {
  const b = 'video_clip';
  return VideoClipModality.create(
    {
      encoder: encoderOf(o, b),
      numFrames: intOption(o, 'numFrames', b, DEFAULTS.numFrames),
      numTokens: intOption(o, 'numTokens', b, DEFAULTS.numTokens),
      projectorLayers: intOption(o, 'projectorLayers', b, DEFAULTS.projectorLayers),
      batchSize: intOption(o, 'batchSize', b, DEFAULTS.batchSize),
      name: optionalString(o, 'name', b),
      token: optionalString(o, 'token', b),
      dataKey: optionalString(o, 'dataKey', b),
    },
    ctx,
  );
}

// A saved entry carries every option, so kinds rebuild from it alone (relative encoder paths resolve against the
// checkpoint through ctx.source).
registerModalityKind('vision_clip', (config, ctx) => visionFrom(config, ctx, false));
registerModalityKind('vision_clip_pool', (config, ctx) => visionFrom(config, ctx, true));
registerModalityKind('video_clip', (config, ctx) => videoFrom(config, ctx));
registerModalityBuilder('vision_clip', async (ctx) => [await visionFrom(ctx.options ?? {}, ctx, false)]);
registerModalityBuilder('vision_clip_pool', async (ctx) => [await visionFrom(ctx.options ?? {}, ctx, true)]);
registerModalityBuilder('video_clip', async (ctx) => [await videoFrom(ctx.options ?? {}, ctx)]);
