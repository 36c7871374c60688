/**
 * Registers the video family with the registry: builder `video_clip` (per-frame CLIP, mean over time → 10 tokens)
 * and the kind that rebuilds it from a checkpoint's config.json. Importing this file is enough.
 *
 * The encoder location comes from `ctx.options.encoder` (a CLIP vision checkpoint: a folder inside the
 * checkpoint, another folder, or a URL). Unlike the seed there is no default model id: nothing is downloaded.
 */
import { registerModalityBuilder, registerModalityKind, type BuildContext } from '../registry.js';
import { intOption, optionalString, type Options } from '../option-readers.js';
import { CLIP_DEFAULTS as DEFAULTS, clipEncoderOption } from '../vision-clip/clip-options.js';
import { VideoClipModality } from './video-clip.js';

function videoFrom(o: Options, ctx: BuildContext): Promise<VideoClipModality> {
  const b = 'video_clip';
  return VideoClipModality.create(
    {
      encoder: clipEncoderOption(o, b),
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

// A saved entry carries every option, so the kind rebuilds from it alone (relative encoder paths resolve against
// the checkpoint through ctx.source).
registerModalityKind('video_clip', (config, ctx) => videoFrom(config, ctx));
registerModalityBuilder('video_clip', async (ctx) => [await videoFrom(ctx.options ?? {}, ctx)]);
