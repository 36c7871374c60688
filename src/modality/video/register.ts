/**
 * Registers the video family with the registry: builder `video_clip` (per-frame CLIP, mean over time → 10 tokens)
 * and the kind that rebuilds it from a checkpoint's config.json. Importing this file is enough.
 *
 * The encoder location comes from `ctx.options.encoder` (a CLIP vision checkpoint: a folder inside the
 * checkpoint, another folder, a URL or a Hugging Face id; default openai/clip-vit-large-patch14-336).
 * It also registers the seed's `video_xclip` (X-CLIP video embedding → 10 tokens; default encoder
 * microsoft/xclip-base-patch32): options `encoder`, `numTokens`, `projectorLayers`, `batchSize`, `name`, `token`, `dataKey`.
 */
import { registerModalityBuilder, registerModalityKind, type BuildContext } from '../registry.js';
import { intOption, optionalString, type Options } from '../option-readers.js';
import { CLIP_DEFAULTS as DEFAULTS, clipEncoderOption } from '../vision-clip/clip-options.js';
import { VideoClipModality } from './video-clip.js';
import { XClipVideoModality } from './video-xclip.js';
import { encoderOption } from '../encoder-location.js';

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

function xclipFrom(o: Options, ctx: BuildContext): Promise<XClipVideoModality> {
  const b = 'video_xclip';
  return XClipVideoModality.create(
    {
      encoder: encoderOption(o, b),
      numTokens: intOption(o, 'numTokens', b, 10),
      projectorLayers: intOption(o, 'projectorLayers', b, 2),
      batchSize: intOption(o, 'batchSize', b, 2),
      name: optionalString(o, 'name', b),
      token: optionalString(o, 'token', b),
      dataKey: optionalString(o, 'dataKey', b),
    },
    ctx,
  );
}

registerModalityKind('video_xclip', (config, ctx) => xclipFrom(config, ctx));
registerModalityBuilder('video_xclip', async (ctx) => [await xclipFrom(ctx.options ?? {}, ctx)]);
