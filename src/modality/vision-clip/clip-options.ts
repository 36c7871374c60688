/** Option defaults and readers shared by the CLIP-based builders (`vision_clip`, `vision_clip_pool`, `video_clip`). */
import type { Options } from '../option-readers.js';

/** Defaults shared with the seed: 2-layer projectors, 10 tokens for pooled/video features, 8 frames. */
export const CLIP_DEFAULTS = { projectorLayers: 2, numTokens: 10, numFrames: 8, batchSize: 8 };

/** The `encoder` option of a CLIP-based builder: required, since nothing is downloaded from a hub. */
export function clipEncoderOption(o: Options, builder: string): string {
  const e = o.encoder;
  if (typeof e !== 'string' || e === '') {
    throw new Error(
      `${builder}: needs option "encoder" — the folder or URL of a CLIP vision checkpoint ` +
        '(config.json, model.safetensors, preprocessor_config.json), e.g. a local copy of openai/clip-vit-large-patch14-336',
    );
  }
  return e;
}
