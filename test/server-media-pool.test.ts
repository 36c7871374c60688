import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { PNG } from 'pngjs';
import { patternPng, tinyServingModel, toneWav } from './helpers/server-fixture.js';
import { MediaPool } from '../node/server/media-pool.js';
import { recipeFor } from '../node/server/media-recipes.js';
import { loadImage } from '../src/media/image-input.js';
import { PreparedItem } from '../src/media/prepared-item.js';
import type { VisionClipModality } from '../src/modality/vision-clip/vision-clip.js';
import type { WhisperAudioModality } from '../src/modality/audio-whisper/audio-whisper.js';
import type { Modality } from '../src/modality/modality.js';
import type { ChatRow } from '../src/chat/encode-chat.js';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { hasFfmpeg } from '../node/video-frames.js';
import { prepareRowMedia } from '../node/server/media-prepare.js';
import { DEFAULT_BUDGETS } from '../node/server/budgets.js';
import { ApiError } from '../node/server/errors.js';
import { missingTool } from './helpers/missing-tool.js';

const started = await MediaPool.start({ threads: 1 });
after(() => started.close());
/** The pool, with results narrowed to prepared values (every item here is within its budgets). */
const pool = {
  run: async (task: Parameters<MediaPool['run']>[0]) => {
    const r = await started.run(task);
    if ('tooLarge' in r) throw new Error(`unexpectedly over a budget: ${r.tooLarge}`);
    return r;
  },
};

const lmm = await tinyServingModel();
const vision = lmm.modalities.find((m) => m.dataKey === 'images') as VisionClipModality;
const audio = lmm.modalities.find((m) => m.dataKey === 'speech_audios') as WhisperAudioModality;
const limits = { maxPixels: 1e8, maxSeconds: 1000, where: 'images[0]' };

/** A w×h PNG of smooth gradients and a few sharp edges (so resizing has work to do). */
function photoPng(w: number, h: number, opts: { grey?: boolean; alpha?: boolean } = {}): Uint8Array {
  const png = new PNG({ width: w, height: h, colorType: opts.grey ? 0 : opts.alpha ? 6 : 2, inputColorType: 6, inputHasAlpha: true });
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const edge = (x * 7 + y * 3) % 97 < 11 ? 255 : 0;
      png.data.set([(x * 255) / w, (y * 255) / h, edge, opts.alpha ? (x + y) % 256 : 255], (y * w + x) * 4);
    }
  }
  return new Uint8Array(PNG.sync.write(png, { colorType: opts.grey ? 0 : opts.alpha ? 6 : 2 }));
}

test('the pool prepares images bit-exactly as the vision modality does on the model thread (PNG RGB/RGBA/grey, JPEG with EXIF rotation, pad to square)', async () => {
  const raw = Buffer.alloc(90 * 50 * 3);
  for (let i = 0; i < raw.length; i++) raw[i] = (i * 37) % 251;
  const jpeg = new Uint8Array(await sharp(raw, { raw: { width: 90, height: 50, channels: 3 } }).jpeg({ quality: 85 }).withMetadata({ orientation: 6 }).toBuffer());
  const images: [string, Uint8Array][] = [
    ['8×8 pattern', patternPng([10, 200, 30])],
    ['wide RGB', photoPng(301, 77)],
    ['tall RGBA', photoPng(40, 333, { alpha: true })],
    ['grey', photoPng(123, 64, { grey: true })],
    ['JPEG, EXIF orientation 6', jpeg],
  ];
  const recipe = recipeFor(vision);
  assert.ok(recipe && recipe.kind === 'clip-image');
  for (const [name, bytes] of images) {
    const reference = (await vision.preprocess([bytes])).pixels;
    const prepared = await pool.run({ recipe, bytes, ...limits });
    assert.equal(prepared.count, 1);
    assert.deepEqual(prepared.data, reference, name);
    // Pad-to-square: the seed's expand2square, then the same pipeline.
    const padded = await pool.run({ recipe: { ...recipe, padToSquare: true }, bytes, ...limits });
    assert.deepEqual(padded.data, await vision.processor.pixelValues(await loadImage(bytes), { padToSquare: true }), `${name}, padded`);
  }
});

test('prepared items pass through the modality unchanged; the pool prepares audio as the Whisper modality does', async () => {
  const bytes = patternPng([1, 2, 3]);
  const recipe = recipeFor(vision)!;
  const r = await pool.run({ recipe, bytes, ...limits });
  const mixed = await vision.preprocess([new PreparedItem('clip-pixels', r.data), bytes]);
  assert.deepEqual(mixed.pixels.subarray(0, r.data.length), r.data);
  assert.deepEqual(mixed.pixels.subarray(r.data.length), r.data);
  await assert.rejects(vision.preprocess([new PreparedItem('clip-pixels', new Float32Array(5))]), /holds 5 values/);

  const wav = toneWav(523, 0.4, 22050);
  const a = await pool.run({ recipe: recipeFor(audio)!, bytes: wav, ...limits, where: 'speech_audios[0]' });
  assert.deepEqual(a.data, (await audio.preprocess([wav])).features);
});

test('worker errors name what was wrong; the pixel backstop refuses before decoding', async () => {
  const recipe = recipeFor(vision)!;
  await assert.rejects(pool.run({ recipe, bytes: new Uint8Array([1, 2, 3, 4]), ...limits }), /could not decode image \(4 bytes/);
  await assert.rejects(pool.run({ recipe, bytes: photoPng(100, 100), ...limits, maxPixels: 5000 }), /pixel limit/i);
  await assert.rejects(pool.run({ recipe: recipeFor(audio)!, bytes: toneWav(440, 3), ...limits, maxSeconds: 1, where: 'speech_audios[0]' }), /3\.0 s of audio; the limit is 1 s/);
  // The pool still works after failures.
  assert.equal((await pool.run({ recipe, bytes: patternPng([9, 9, 9]), ...limits })).count, 1);
});

const ffmpeg = await hasFfmpeg();

test('a video whose frames are over the pixel budget is refused from its headers (413 naming the item); one within it is prepared', { skip: missingTool(ffmpeg ? false : 'ffmpeg/ffprobe not on PATH (apt-get install ffmpeg to run this)') }, async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'pool-video-'));
  try {
    const file = path.join(dir, 'v.mp4');
    const made = spawnSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc=s=320x240:r=4:d=1', '-pix_fmt', 'yuv420p', file]);
    assert.equal(made.status, 0, made.stderr?.toString());
    const bytes = new Uint8Array(await readFile(file));
    const recipe = { kind: 'clip-video', processor: vision.processor.json, numFrames: 2 } as const;
    assert.deepEqual(await started.run({ recipe, bytes, ...limits, maxPixels: 50_000, where: 'videos[0]' }), {
      tooLarge: 'a 320×240 video (76,800 pixels a frame); this server accepts at most 50,000 (--max_image_pixels)',
    });
    assert.equal((await pool.run({ recipe, bytes, ...limits, where: 'videos[0]' })).count, 2);
    // What a request sees: 413, naming the item.
    const row = { messages: [{ role: 'user', content: '<video>' }], videos: [bytes] } as unknown as ChatRow;
    const overBudget = { run: async () => ({ tooLarge: 'a 320×240 video (76,800 pixels a frame); this server accepts at most 50,000 (--max_image_pixels)' }) } as unknown as MediaPool;
    await assert.rejects(
      prepareRowMedia(row, [{ dataKey: 'videos' } as Modality], [recipe], overBudget, DEFAULT_BUDGETS, (k, i) => `${k}[${i}]`),
      (e: ApiError) => e.status === 413 && e.param === 'videos[0]' && e.message.startsWith('videos[0] is a 320×240 video'),
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
