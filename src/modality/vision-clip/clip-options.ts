/** Option defaults and readers shared by the CLIP-based builders (`vision_clip`, `vision_clip_pool`, `video_clip`). */
import type { Options } from '../option-readers.js';
import { encoderOption } from '../encoder-location.js';

/** Defaults shared with the seed: 2-layer projectors, 10 tokens for pooled/video features, 8 frames. */
export const CLIP_DEFAULTS = { projectorLayers: 2, numTokens: 10, numFrames: 8, batchSize: 8 };

/** The `encoder` option of a CLIP-based builder; without it, the seed's default id (openai/clip-vit-large-patch14-336). */
export function clipEncoderOption(o: Options, builder: string): string {
  return encoderOption(o, builder);
}
