/**
 * A video item may name a part of a video, as the seed's datasets do (`{"url": …, "start_time": 12.5, "end_time":
 * 20}`, seconds): frames are then sampled within that window. This file reads such items for both platforms'
 * decoders (ffmpeg in Node, `<video>` in the browser) and places the sample times.
 */
import { sampleTimes } from './video-sampling.js';

/** Where a video item's bytes are and which part of it to sample. */
export interface VideoClipSpec {
  /** The video itself: a path, URL, data URL, bytes or Blob (what the decoder reads). */
  source: unknown;
  start?: number;
  end?: number;
  /** A short name for errors (the path or URL, shortened). */
  label: string;
}

const isBytes = (v: unknown) => v instanceof Uint8Array || v instanceof ArrayBuffer || (typeof Blob !== 'undefined' && v instanceof Blob);

function seconds(v: unknown, key: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new Error(`"${key}" must be a number of seconds ≥ 0 (got ${JSON.stringify(v)})`);
  return v;
}

function labelOf(source: unknown): string {
  if (typeof source === 'string') return source.startsWith('data:') ? 'the data: URL' : source.length > 120 ? `${source.slice(0, 117)}…` : source;
  return 'the video bytes';
}

/** Reads a video item: a plain source, or `{url|path|video, start_time?, end_time?}`. */
export function parseVideoItem(video: unknown): VideoClipSpec {
  let source = video;
  let start: number | undefined;
  let end: number | undefined;
  if (typeof video === 'object' && video !== null && !isBytes(video) && !Array.isArray(video) && !(typeof HTMLElement !== 'undefined' && video instanceof HTMLElement)) {
    const o = video as Record<string, unknown>;
    source = o.path ?? o.url ?? o.video;
    if (source === undefined) throw new Error('a video given as an object needs "path" or "url" (and optionally "start_time", "end_time" in seconds)');
    start = seconds(o.start_time, 'start_time');
    end = seconds(o.end_time, 'end_time');
    if (start !== undefined && end !== undefined && !(end > start)) throw new Error(`"end_time" (${end}) must be after "start_time" (${start})`);
  }
  if (typeof source === 'string' && /^https?:\/\/(www\.)?(youtube\.com|youtu\.be)\//i.test(source)) {
    throw new Error(`${source} is a YouTube page, not a video file: download the video (e.g. with yt-dlp) and give its path`);
  }
  return { source, start, end, label: labelOf(source) };
}

/** `n` sample times inside `[start, end]` of a video `duration` seconds long (the middle of n equal segments). */
export function clipSampleTimes(duration: number, n: number, spec: Pick<VideoClipSpec, 'start' | 'end' | 'label'>): number[] {
  const start = spec.start ?? 0;
  const end = Math.min(spec.end ?? duration, duration);
  if (!(end > start)) throw new Error(`${spec.label}: start_time ${start} s is past the end of the video (${duration.toFixed(3)} s)`);
  return sampleTimes(end - start, n).map((t) => start + t);
}
