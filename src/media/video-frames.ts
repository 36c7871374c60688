/**
 * Turning a video file into a few frames is platform-specific — Node spawns ffmpeg (`node/video-frames.ts`),
 * the browser seeks a `<video>` element (`video-frames-browser.ts`) — so `src/` only holds the hook both plug
 * into; the host installs its decoder with `configurePlatform({ videoFrameDecoder })` (`src/platform.ts`).
 */
import type { ImageInput, ImageLoadContext } from './image-input.js';

/**
 * Samples `numFrames` frames evenly over a video. `video` is one video item as a row gives it (path, URL, data
 * URL, bytes, Blob; in the browser also a `<video>` element). Returns the frames as image items.
 */
export type VideoFrameDecoder = (video: unknown, numFrames: number, ctx: ImageLoadContext) => Promise<ImageInput[]>;

let registered: VideoFrameDecoder | null = null;

/** Installs the platform's decoder; only `configurePlatform` (src/platform.ts) calls it. `null` removes it. */
export function setVideoFrameDecoder(decoder: VideoFrameDecoder | null): void {
  registered = decoder;
}

/** The message when no decoder can handle a video file. */
export const NO_VIDEO_DECODER =
  'cannot decode video files here: install ffmpeg (apt-get install ffmpeg) or pass frames (a list of images) instead';

/**
 * Decodes with the registered decoder, else in a browser with a `<video>` element, else fails with
 * {@link NO_VIDEO_DECODER}.
 */
export async function decodeVideoFrames(video: unknown, numFrames: number, ctx: ImageLoadContext): Promise<ImageInput[]> {
  if (registered) return registered(video, numFrames, ctx);
  if (typeof document !== 'undefined') {
    const { browserVideoFrames } = await import('./video-frames-browser.js');
    return browserVideoFrames(video, numFrames, ctx);
  }
  throw new Error(NO_VIDEO_DECODER);
}
