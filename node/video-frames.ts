/**
 * Video frames in Node with the system's ffmpeg (Debian: `apt-get install ffmpeg`): the video goes to a temp
 * file (ffmpeg needs to seek, which a pipe cannot do for MP4s whose index sits at the end), ffprobe reads the
 * duration, and one ffmpeg per frame seeks to the middle of each of N equal segments and writes a PNG to stdout.
 * `node/platform.ts` installs it as the video decoder of every `video_clip` modality in Node.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { dataUrlBytes, type ImageLoadContext } from '../src/media/image-input.js';
import { NO_VIDEO_DECODER } from '../src/media/video-frames.js';
import { clipSampleTimes, parseVideoItem } from '../src/media/video-clip-spec.js';

/** Runs a program, collecting stdout; a missing program becomes the "install ffmpeg" error. */
function run(cmd: string, args: string[]): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e: NodeJS.ErrnoException) => reject(e.code === 'ENOENT' ? new Error(NO_VIDEO_DECODER) : e));
    child.on('close', (code) => {
      if (code === 0) return resolve(new Uint8Array(Buffer.concat(out)));
      const msg = Buffer.concat(err).toString('utf8').trim().split('\n').slice(-3).join(' | ');
      reject(new Error(`${cmd} failed (exit ${code}): ${msg || 'no message'}`));
    });
  });
}

/** Whether `ffmpeg` and `ffprobe` can be started. */
export async function hasFfmpeg(): Promise<boolean> {
  try {
    await run('ffmpeg', ['-hide_banner', '-version']);
    await run('ffprobe', ['-hide_banner', '-version']);
    return true;
  } catch {
    return false;
  }
}

/** A frame larger than the caller's pixel budget, found from the container's headers before any frame is decoded. */
export class VideoFrameTooLargeError extends Error {
  constructor(readonly label: string, readonly width: number, readonly height: number, readonly maxPixels: number) {
    super(`${label} is a ${width}×${height} video (${(width * height).toLocaleString('en-US')} pixels a frame); the limit is ${maxPixels.toLocaleString('en-US')} pixels a frame`);
    this.name = 'VideoFrameTooLargeError';
  }
}

/** Duration in seconds and frame size of the first video stream, from the headers (ffprobe decodes nothing). */
async function probeVideo(file: string): Promise<{ duration: number; width: number; height: number }> {
  const json = new TextDecoder().decode(
    await run('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=duration,width,height:format=duration', '-of', 'json', file]),
  );
  const info = JSON.parse(json) as { streams?: { duration?: string; width?: number; height?: number }[]; format?: { duration?: string } };
  if (!info.streams || info.streams.length === 0) throw new Error('the file has no video stream');
  const d = Number(info.streams[0]?.duration ?? info.format?.duration);
  if (!(d > 0)) throw new Error('could not read the video duration');
  return { duration: d, width: Number(info.streams[0]?.width ?? 0), height: Number(info.streams[0]?.height ?? 0) };
}

/** One frame at time `t` as PNG bytes. */
async function frameAt(file: string, t: number): Promise<Uint8Array> {
  // -ss before -i seeks by index (fast) and then decodes up to exactly t.
  const png = await run('ffmpeg', ['-v', 'error', '-ss', t.toFixed(3), '-i', file, '-frames:v', '1', '-f', 'image2pipe', '-c:v', 'png', 'pipe:1']);
  if (png.length === 0) throw new Error(`no frame at ${t.toFixed(3)} s`);
  return png;
}

/** The video's bytes: data URLs directly, other strings through `ctx.loadBytes` (or read as a path). */
async function videoBytes(video: unknown, ctx: ImageLoadContext): Promise<Uint8Array> {
  if (typeof video === 'string') {
    if (video.startsWith('data:')) return dataUrlBytes(video);
    if (ctx.loadBytes) return ctx.loadBytes(video);
    if (/^https?:\/\//i.test(video)) throw new Error(`cannot fetch ${video}: no loadBytes was given to preprocessing`);
    // Library use without a loader: the caller trusts its own paths.
    return new Uint8Array(await readFile(video));
  }
  if (video instanceof Uint8Array) return video;
  if (video instanceof ArrayBuffer) return new Uint8Array(video);
  if (video instanceof Blob) return new Uint8Array(await video.arrayBuffer());
  throw new Error('expected a video (path, URL, data URL, bytes or Blob) or a list of frames');
}

/**
 * Samples `numFrames` frames evenly over a video (or over `start_time`…`end_time` of it, for an item
 * `{path|url, start_time, end_time}`) with ffmpeg; returns them as PNG bytes (image items). Errors name the
 * video; without ffmpeg on the PATH they say to install it.
 */
export async function ffmpegVideoFrames(video: unknown, numFrames: number, ctx: ImageLoadContext = {}, opts: { maxPixels?: number } = {}): Promise<Uint8Array[]> {
  const spec = parseVideoItem(video);
  const bytes = await videoBytes(spec.source, ctx);
  const dir = await mkdtemp(path.join(tmpdir(), 'multi-token-video-'));
  const file = path.join(dir, 'input');
  try {
    await writeFile(file, bytes);
    let probe: Awaited<ReturnType<typeof probeVideo>>;
    try {
      probe = await probeVideo(file);
    } catch (e) {
      const m = (e as Error).message;
      throw new Error(m === NO_VIDEO_DECODER ? `cannot decode ${spec.label}: ${m}` : `${spec.label} is not a readable video (${m})`);
    }
    const { duration, width, height } = probe;
    if (opts.maxPixels !== undefined && width * height > opts.maxPixels) throw new VideoFrameTooLargeError(spec.label, width, height, opts.maxPixels);
    const frames: Uint8Array[] = [];
    // Sequential: each ffmpeg already uses several threads, and order must follow time.
    for (const t of clipSampleTimes(duration, numFrames, spec)) {
      try {
        frames.push(await frameAt(file, t));
      } catch (e) {
        throw new Error(`${spec.label}: could not decode the frame at ${t.toFixed(3)} s (${(e as Error).message})`);
      }
    }
    return frames;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
