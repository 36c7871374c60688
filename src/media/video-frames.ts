/**
 * Turning a video file into a few frames is platform-specific — Node spawns ffmpeg (`node/video-frames.ts`),
 * the browser seeks a `<video>` element (`video-frames-browser.ts`) — so `src/` only holds the hook both plug
 * into, in the same way `setLocalSourceFactory` lets Node add folder reading.
 */
import type { ImageInput, ImageLoadContext } from './image-input.js';

/**
 * Samples `numFrames` frames evenly over a video. `video` is one video item as a row gives it (path, URL, data
 * URL, bytes, Blob; in the browser also a `<video>` element). Returns the frames as image items.
 */
export type VideoFrameDecoder = (video: unknown, numFrames: number, ctx: ImageLoadContext) => Promise<ImageInput[]>;

let registered: VideoFrameDecoder | null = null;

/** Installs the platform's decoder (the Node entry point registers the ffmpeg one). `null` removes it. */
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

/** `n` evenly spaced sample times over `duration` seconds: the middle of each of `n` equal segments. */
export function sampleTimes(duration: number, n: number): number[] {
  return Array.from({ length: n }, (_, i) => (duration * (i + 0.5)) / n);
}

/** Picks `n` items evenly from a longer list (all of them when it has at most `n`). */
export function sampleEvenly<T>(items: T[], n: number): T[] {
  if (items.length <= n) return items;
  return Array.from({ length: n }, (_, i) => items[Math.floor(((i + 0.5) * items.length) / n)]!);
}
