/**
 * Registers the CLIP vision family with the registry: builders `vision_clip` (LLaVA: patch tokens) and
 * `vision_clip_pool` (pooled embedding → 10 tokens), and the kinds that rebuild them from a checkpoint's
 * config.json. Importing this file is enough (`video/register.ts` does the same for `video_clip`).
 *
 * Builders read the encoder location from `ctx.options.encoder` (a folder inside the checkpoint, another
 * folder, a URL or a Hugging Face id); without it they use the seed's default id (`DEFAULT_ENCODERS`).
 */
import { registerModalityBuilder, registerModalityKind, type BuildContext } from '../registry.js';
import { VisionClipModality, type ClipFeatureLayer } from './vision-clip.js';
import { intOption, optionalString, type Options } from '../option-readers.js';
import { CLIP_DEFAULTS as DEFAULTS, clipEncoderOption } from './clip-options.js';

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
      encoder: clipEncoderOption(o, builder),
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

// A saved entry carries every option, so kinds rebuild from it alone (relative encoder paths resolve against the
// checkpoint through ctx.source).
registerModalityKind('vision_clip', (config, ctx) => visionFrom(config, ctx, false));
registerModalityKind('vision_clip_pool', (config, ctx) => visionFrom(config, ctx, true));
registerModalityBuilder('vision_clip', async (ctx) => [await visionFrom(ctx.options ?? {}, ctx, false)]);
registerModalityBuilder('vision_clip_pool', async (ctx) => [await visionFrom(ctx.options ?? {}, ctx, true)]);
