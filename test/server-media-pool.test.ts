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

const pool = await MediaPool.start({ threads: 1 });
after(() => pool.close());

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
