/**
 * The worker side of the media pool (media-pool.ts): turns one item's bytes into the values its modality's
 * `preprocess` would make — decoding with sharp, CLIP's Pillow-exact resize and crop, Whisper's log-mel, ffmpeg
 * frames for video — off the thread that answers HTTP and runs the model. Processors are rebuilt from the
 * recipe (media-recipes.ts) and kept per configuration.
 */
import sharp from 'sharp';
import type { RawImage } from '@huggingface/transformers';
import { MemorySource } from '../../src/io/source.js';
import { ClipImagePreprocessor } from '../../src/modality/vision-clip/clip-preprocess.js';
import { loadTransformers } from '../../src/media/image-input.js';
import { loadAudio } from '../../src/media/audio-input.js';
import { loadWhisperFeatures, type WhisperFeatures } from '../../src/modality/audio-whisper/whisper-features.js';
import { ffmpegVideoFrames, VideoFrameTooLargeError } from '../video-frames.js';

const fmt = (n: number) => n.toLocaleString('en-US');
import type { MediaRecipe } from './media-recipes.js';
import { releaseWhenIdle } from './memory-release.js';
import { lowerThreadPriority } from '../thread-priority.js';

// Decoded images are used once: libvips' operation cache would only keep their memory.
sharp.cache(false);
// One libvips thread per operation on every platform (sharp's default is one per core except on glibc Linux, where
// it is already 1): the pool runs one worker per core, and the model's threads need the rest.
sharp.concurrency(1);
// Media preparation yields the cores to the model's threads (see thread-priority.ts); `MULTI_TOKEN_WORKER_NICE=0` turns it off.
lowerThreadPriority(Number(process.env.MULTI_TOKEN_WORKER_NICE ?? 10));
// A decoded photo is tens of megabytes of garbage once its pixels are resized: collect it when the queue pauses.
const touched = releaseWhenIdle(500);

/** One item to prepare. */
export interface MediaTask {
  recipe: MediaRecipe;
  bytes: Uint8Array;
  /** sharp refuses to decode more pixels than this (the header was checked already; this is the backstop). */
  maxPixels: number;
  /** Longest audio accepted after decoding, in seconds (backstop for the header check). */
  maxSeconds: number;
  /** The item's name in errors (`images[0]`, `messages[0].content[1].input_audio.data`). */
  where: string;
}

/** The prepared values (`count` blocks of the modality's per-item size), or why the item is over a budget. */
export type MediaResult = { data: Float32Array; count: number } | { tooLarge: string };

const processors = new Map<string, Promise<ClipImagePreprocessor>>();
const extractors = new Map<string, Promise<WhisperFeatures>>();

function clipProcessor(json: Record<string, unknown>): Promise<ClipImagePreprocessor> {
  const key = JSON.stringify(json);
  let p = processors.get(key);
  if (!p) processors.set(key, (p = ClipImagePreprocessor.fromConfig(json)));
  return p;
}

function whisperFeatures(cfg: Record<string, unknown>): Promise<WhisperFeatures> {
  const key = JSON.stringify(cfg);
  let p = extractors.get(key);
  if (!p) extractors.set(key, (p = loadWhisperFeatures(new MemorySource(new Map([['preprocessor_config.json', new TextEncoder().encode(key)]]), 'worker'))));
  return p;
}

/**
 * Decodes image bytes the way transformers.js's `RawImage.fromBlob` does in Node (sharp, EXIF rotation applied,
 * the file's own channel count kept), with sharp's pixel limit as a backstop to the header check.
 */
async function decodeImage(bytes: Uint8Array, maxPixels: number): Promise<RawImage> {
  const { RawImage } = await loadTransformers();
  const img = sharp(bytes, { limitInputPixels: maxPixels });
  const { channels } = await img.metadata();
  const { data, info } = await img.rotate().raw().toBuffer({ resolveWithObject: true });
  const out = new RawImage(new Uint8ClampedArray(data.buffer, data.byteOffset, data.length), info.width, info.height, info.channels);
  return channels !== undefined && channels !== info.channels ? out.convert(channels) : out;
}

async function clipPixels(bytes: Uint8Array, json: Record<string, unknown>, padToSquare: boolean, maxPixels: number): Promise<Float32Array> {
  const processor = await clipProcessor(json);
  let image: RawImage;
  try {
    image = await decodeImage(bytes, maxPixels);
  } catch (e) {
    throw new Error(`could not decode image (${bytes.length} bytes; corrupt or unsupported format): ${(e as Error).message}`);
  }
  try {
    return await processor.pixelValues(image, { padToSquare });
  } catch (e) {
    throw new Error(`could not preprocess image: ${(e as Error).message}`);
  }
}

async function prepare(task: MediaTask): Promise<MediaResult> {
  const r = task.recipe;
  if (r.kind === 'clip-image') return { data: await clipPixels(task.bytes, r.processor, r.padToSquare, task.maxPixels), count: 1 };
  if (r.kind === 'whisper-audio') {
    const features = await whisperFeatures(r.features);
    const samples = await loadAudio(task.bytes, task.where, undefined, { samplingRate: features.samplingRate });
    const seconds = samples.length / features.samplingRate;
    if (seconds > task.maxSeconds + 1) throw new Error(`decodes to ${seconds.toFixed(1)} s of audio; the limit is ${task.maxSeconds} s`);
    return { data: await features.extract(samples), count: 1 };
  }
  // The frame size comes from the container's headers: a video of huge frames is refused before ffmpeg decodes one.
  let frames: Uint8Array[];
  try {
    frames = await ffmpegVideoFrames(task.bytes, r.numFrames, {}, { maxPixels: task.maxPixels });
  } catch (e) {
    if (e instanceof VideoFrameTooLargeError) return { tooLarge: `a ${e.width}×${e.height} video (${fmt(e.width * e.height)} pixels a frame); this server accepts at most ${fmt(e.maxPixels)} (--max_image_pixels)` };
    throw e;
  }
  if (frames.length === 0) throw new Error('no frames could be decoded');
  const parts: Float32Array[] = [];
  for (const f of frames) parts.push(await clipPixels(f, r.processor, false, task.maxPixels));
  const data = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) {
    data.set(p, at);
    at += p.length;
  }
  return { data, count: parts.length };
}

/** Piscina's entry point. `{warm: true}` loads the heavy modules and returns (the pool's start-up). */
export default async function run(task: MediaTask | { warm: true }): Promise<MediaResult | null> {
  if ('warm' in task) {
    await loadTransformers();
    return null;
  }
  try {
    return await prepare(task);
  } finally {
    touched();
  }
}
