/**
 * Registers the seed's `video_xclip` builder (`<video>`, `videos`, 10 tokens from X-CLIP's video embedding) and the
 * kind that rebuilds it from config.json. Options: `encoder` (folder, URL or Hugging Face id; default the seed's
 * microsoft/xclip-base-patch32), `numTokens`, `projectorLayers`, `batchSize`, `name`, `token`, `dataKey`.
 */
import { registerModalityBuilder, registerModalityKind, type BuildContext } from './registry.js';
import { intOption, optionalString, type Options } from './option-readers.js';
import { encoderOption } from './default-encoders.js';
import { XClipVideoModality } from './video-xclip.js';

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
