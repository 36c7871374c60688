/**
 * Video frames in the browser: load the video into a detached `<video>` element, seek to evenly spaced times and
 * copy each frame through a canvas. No codec code of our own: whatever the browser plays, we can sample.
 */
import { dataUrlBytes, type ImageLoadContext } from './image-input.js';
import { clipSampleTimes, parseVideoItem } from './video-clip-spec.js';

function once(el: HTMLVideoElement, event: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const ok = () => (cleanup(), resolve());
    const fail = () => (cleanup(), reject(new Error(`video could not be decoded (${el.error?.message ?? 'unsupported or corrupt'})`)));
    const cleanup = () => {
      el.removeEventListener(event, ok);
      el.removeEventListener('error', fail);
    };
    el.addEventListener(event, ok);
    el.addEventListener('error', fail);
  });
}

/** A `src` for the video: object URLs for bytes, the URL itself otherwise (fetched by the browser, CORS applies). */
async function videoUrl(video: unknown, ctx: ImageLoadContext): Promise<{ url: string; revoke: boolean }> {
  let bytes: Uint8Array | null = null;
  if (typeof video === 'string') {
    if (video.startsWith('data:')) bytes = dataUrlBytes(video);
    else if (ctx.loadBytes) bytes = await ctx.loadBytes(video);
    else return { url: video, revoke: false };
  } else if (video instanceof Uint8Array) bytes = video;
  else if (video instanceof ArrayBuffer) bytes = new Uint8Array(video);
  else if (video instanceof Blob) return { url: URL.createObjectURL(video), revoke: true };
  else throw new Error('expected a video (URL, data URL, bytes, Blob or <video> element) or a list of frames');
  return { url: URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>])), revoke: true };
}

/** Samples `numFrames` frames (as `ImageData`) evenly over a video, in a browser. */
export async function browserVideoFrames(item: unknown, numFrames: number, ctx: ImageLoadContext): Promise<ImageData[]> {
  const spec = parseVideoItem(item);
  const video = spec.source;
  let el: HTMLVideoElement;
  let revoke: string | null = null;
  if (video instanceof HTMLVideoElement) el = video;
  else {
    const { url, revoke: r } = await videoUrl(video, ctx);
    if (r) revoke = url;
    el = document.createElement('video');
    el.crossOrigin = 'anonymous'; // otherwise a cross-origin frame taints the canvas and getImageData throws
    el.muted = true;
    el.preload = 'auto';
    const ready = once(el, 'loadedmetadata');
    el.src = url;
    await ready;
  }
  try {
    if (el.readyState < 1) await once(el, 'loadedmetadata');
    const { videoWidth: w, videoHeight: h, duration } = el;
    if (!(w > 0 && h > 0 && Number.isFinite(duration) && duration > 0)) throw new Error('video has no frames or no known duration');
    const canvas = document.createElement('canvas');
    Object.assign(canvas, { width: w, height: h });
    const c2d = canvas.getContext('2d', { willReadFrequently: true });
    if (!c2d) throw new Error('no 2D canvas context available');
    const frames: ImageData[] = [];
    for (const t of clipSampleTimes(duration, numFrames, spec)) {
      const seeked = once(el, 'seeked');
      el.currentTime = t;
      await seeked;
      c2d.drawImage(el, 0, 0, w, h);
      frames.push(c2d.getImageData(0, 0, w, h));
    }
    return frames;
  } finally {
    if (revoke) URL.revokeObjectURL(revoke);
  }
}
