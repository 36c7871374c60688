import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { PNG } from 'pngjs';
import { RawImage } from '@huggingface/transformers';
import { tf } from '../src/tf.js';
import { MemorySource } from '../src/io/source.js';
import { buildModalities, modalityFromConfig } from '../src/modality/registry.js';
import '../src/modality/vision-clip/register.js';
import { ClipImagePreprocessor } from '../src/modality/vision-clip/clip-preprocess.js';
import { loadImage } from '../src/media/image-input.js';
import { VisionClipModality } from '../src/modality/vision-clip/vision-clip.js';
import { VideoClipModality } from '../src/modality/video/video-clip.js';
import { configurePlatform } from '../src/platform.js';
import { ffmpegVideoFrames, hasFfmpeg } from '../node/video-frames.js';
import { OPENAI_CLIP_MEAN as MEAN, OPENAI_CLIP_STD as STD, makeTinyClipVision, tinyClipPreprocessorJSON } from '../src/tiny/tiny-clip.js';
import { initProjector } from '../src/projector/index.js';
import { skipMissingTool } from './helpers/missing-tool.js';

const tiny = makeTinyClipVision({ seed: 7 });
const fixture = JSON.parse(readFileSync(new URL('./fixtures/clip-vision-ref.json', import.meta.url), 'utf8')) as {
  images: { png: string; padToSquare: boolean }[];
  crops_u8: string;
  crops_shape: number[];
};

/** A solid-colour RGB PNG made with pngjs. */
function solidPng(w: number, h: number, rgb: number[]): Uint8Array {
  const png = new PNG({ width: w, height: h });
  for (let i = 0; i < w * h; i++) png.data.set([...rgb, 255], i * 4);
  return new Uint8Array(PNG.sync.write(png));
}

const processor = () => ClipImagePreprocessor.fromConfig(tinyClipPreprocessorJSON(32));
const rand = () => 0.5;
let modality: Promise<VisionClipModality> | null = null;
const visionClip = () => (modality ??= VisionClipModality.create({ encoder: new MemorySource(tiny, 'memory:/clip') }));

test('CLIP processor: a 2×2 solid PNG becomes 3×32×32 of (v/255 − mean)/std', async () => {
  const p = await processor();
  const rgb = [200, 100, 50];
  const px = await p.pixelValues(await loadImage(solidPng(2, 2, rgb)));
  assert.equal(px.length, 3 * 32 * 32);
  for (let k = 0; k < 3; k++) {
    const want = (rgb[k]! / 255 - MEAN[k]!) / STD[k]!;
    for (let i = 0; i < 32 * 32; i++) assert.ok(Math.abs(px[k * 1024 + i]! - want) < 1e-5, `channel ${k} pixel ${i}: ${px[k * 1024 + i]} vs ${want}`);
  }
});

test('CLIP processor: matches Pillow + CLIPImageProcessor (reference fixture, incl. pad-to-square) exactly', async () => {
  const p = await processor();
  const [n, h, w] = fixture.crops_shape as [number, number, number];
  const crops = Buffer.from(fixture.crops_u8, 'base64');
  for (let i = 0; i < n; i++) {
    const { png, padToSquare } = fixture.images[i]!;
    const px = await p.pixelValues(await loadImage(Buffer.from(png, 'base64')), { padToSquare });
    let worst = 0;
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++)
        for (let k = 0; k < 3; k++) {
          const want = (Math.fround(crops[((i * h + y) * w + x) * 3 + k]! / 255) - MEAN[k]!) / STD[k]!;
          worst = Math.max(worst, Math.abs(px[(k * h + y) * w + x]! - want));
        }
    assert.ok(worst < 1e-6, `image ${i} (padToSquare ${padToSquare}): max |diff| ${worst}`);
  }
});

test('CLIP processor: integer size/crop_size mean shortest edge (Python semantics); pad-to-square uses int(mean·255)', async () => {
  const wide = new RawImage(Uint8ClampedArray.from({ length: 64 * 32 * 3 }, (_, i) => (i * 37) % 256), 64, 32, 3);
  const dict = await processor();
  const ints = await ClipImagePreprocessor.fromConfig({ ...tinyClipPreprocessorJSON(32), size: 32, crop_size: 32 });
  assert.deepEqual(await ints.pixelValues(wide), await dict.pixelValues(wide));
  assert.deepEqual(dict.padColor, [122, 116, 104]);
  // A 4×2 image padded to square equals the same image pasted by hand into a 4×4 of the pad colour.
  const body = [10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120, 130, 140, 150, 160, 170, 180, 190, 200, 210, 220, 230, 240];
  const small = new RawImage(Uint8ClampedArray.from(body), 4, 2, 3);
  const byHand = new Uint8ClampedArray(4 * 4 * 3);
  for (let i = 0; i < 16; i++) byHand.set([122, 116, 104], i * 3);
  byHand.set(body, 4 * 3); // rows 1-2: offset (4 − 2) // 2 = 1
  const padded = await dict.pixelValues(small, { padToSquare: true });
  assert.deepEqual(padded, await dict.pixelValues(new RawImage(byHand, 4, 4, 3)));
  const square = new RawImage(Uint8ClampedArray.from(byHand), 4, 4, 3);
  assert.deepEqual(await dict.pixelValues(square, { padToSquare: true }), await dict.pixelValues(square));
});

test('CLIP processor: missing preprocessor_config.json names the location', async () => {
  const files = new Map([...tiny].filter(([k]) => k !== 'preprocessor_config.json'));
  await assert.rejects(VisionClipModality.create({ encoder: new MemorySource(files, 'memory:/clip') }), /missing memory:\/clip\/preprocessor_config.json/);
});

test('image inputs: bytes, ArrayBuffer, data URL, pixels, path via loadBytes; errors name the item and row', async () => {
  const png = solidPng(3, 2, [1, 2, 3]);
  const dataUrl = `data:image/png;base64,${Buffer.from(png).toString('base64')}`;
  const ctx = { loadBytes: async (ref: string) => (ref === 'a.png' ? png : Promise.reject(new Error(`no file ${ref}`))) };
  const forms: unknown[] = [png, png.slice().buffer, dataUrl, 'a.png', { path: 'a.png' }, { data: new Uint8Array(18).fill(1), width: 3, height: 2, channels: 3 }];
  for (const f of forms) {
    const img = await loadImage(f, ctx);
    assert.deepEqual([img.width, img.height], [3, 2]);
  }
  await assert.rejects(loadImage(42, { rowId: 'r1' }, 'images[0]'), { name: 'RowError', message: /^row "r1": images\[0\]: is number; an image must be/ });
  await assert.rejects(loadImage('https://example.com/x.png', {}, 'images[2]'), /^Error: images\[2\]: .*no file loader/);
  await assert.rejects(loadImage('b.png', ctx, 'images[3]'), /images\[3\]: could not read "b.png": no file b.png/);
});

test('vision_clip: 16 patch tokens for 32/8, encode + project shapes, corrupt image names item and row', async () => {
  const m = await visionClip();
  assert.deepEqual([m.name, m.token, m.dataKey, m.tokenWidth], ['vision_clip', '<image>', 'images', 16]);
  assert.deepEqual(m.projectorSpec, { type: 'patch_mlp', inputSize: 32, layers: 2 });
  const good = solidPng(5, 7, [9, 99, 199]);
  const rows = [await m.preprocess([good, Buffer.from(fixture.images[0]!.png, 'base64')]), await m.preprocess([])];
  const feats = await m.encode(rows);
  assert.deepEqual(feats.map((t) => t.shape), [[2, 16, 32], [0, 16, 32]]);
  // Layer −2 patch tokens, CLS dropped: the encoder's own hidden state, rows 1..16.
  const direct = m.encoder.hiddenState(tf.tensor4d(rows[0]!.pixels, [2, 3, 32, 32]), -2).slice([0, 1, 0], [2, 16, 32]);
  assert.deepEqual([...feats[0]!.dataSync()], [...direct.dataSync()]);
  const proj = initProjector(m.projectorSpec, 24, rand);
  assert.deepEqual(proj.apply(feats[0]!).shape, [2, 16, 24]);
  await assert.rejects(m.preprocess([good, new Uint8Array([0x89, 0x50, 0x4e, 0x47, 1, 2, 3])], { rowId: 'req-7' }), {
    name: 'RowError',
    message: /^row "req-7": images\[1\]: could not decode image \(7 bytes; corrupt or unsupported format\)/,
  });
});

test('vision_clip_pool: 10 tokens from the pooled output; builders and config round trip', async () => {
  const source = new MemorySource(new Map([...tiny].map(([k, v]) => [`clip/${k}`, v])), 'memory:/model');
  const [pool] = await buildModalities('vision_clip_pool', { source, options: { encoder: 'clip' } });
  assert.ok(pool instanceof VisionClipModality);
  assert.deepEqual([pool.name, pool.tokenWidth, pool.projectorSpec], ['vision_clip', 10, { type: 'vector_mlp', inputSize: 32, layers: 2, numTokens: 10 }]);
  const [feats] = await pool.encode([await pool.preprocess([solidPng(4, 4, [1, 2, 3])])]);
  assert.deepEqual(feats!.shape, [1, 1, 32]);
  assert.deepEqual(initProjector(pool.projectorSpec, 24, rand).apply(feats!).shape, [1, 10, 24]);
  const cfg = pool.toConfig();
  assert.deepEqual(cfg, { kind: 'vision_clip_pool', name: 'vision_clip', token: '<image>', dataKey: 'images', encoder: 'clip', padToSquare: false, projectorLayers: 2, featureLayer: 'pooled', numTokens: 10 });
  const again = await modalityFromConfig(cfg, { source });
  assert.deepEqual(again.toConfig(), cfg);
  const [patch] = await buildModalities('vision_clip', { source, options: { encoder: 'clip', padToSquare: true, projectorLayers: 1 } });
  assert.deepEqual([patch!.tokenWidth, patch!.toConfig().kind, patch!.toConfig().padToSquare, patch!.projectorSpec.layers], [16, 'vision_clip', true, 1]);
  await assert.rejects(buildModalities('vision_clip', { source, options: {}, open: (w) => { throw new Error(`opened ${w}`); } }), /opened openai\/clip-vit-large-patch14-336/, "the seed's default id");
  for (const m of [pool, again, patch]) m!.dispose?.();
});

test('video_clip: frame lists → per-frame pooled CLIP, mean over time, 10 tokens', async () => {
  const v = await VideoClipModality.create({ encoder: new MemorySource(tiny), numFrames: 3 });
  assert.deepEqual([v.name, v.token, v.dataKey, v.tokenWidth], ['video_clip', '<video>', 'videos', 10]);
  const frames = [[255, 0, 0], [0, 255, 0], [0, 0, 255], [9, 9, 9]].map((c) => solidPng(6, 4, c));
  // 4 frames thinned evenly to 3 (indices 0, 2, 3); the second video has 1 frame.
  const pre = await v.preprocess([frames, [frames[1]!]]);
  assert.deepEqual(pre.framesPerVideo, [3, 1]);
  const [feats] = await v.encode([pre]);
  assert.deepEqual(feats!.shape, [2, 1, 32]);
  const pooled = v.encoder.forward(tf.tensor4d(pre.frames.pixels, [4, 3, 32, 32])).pooled;
  const mean0 = pooled.slice([0, 0], [3, 32]).mean(0);
  const diff = tf.max(tf.abs(tf.sub(feats!.reshape([2, 32]), tf.stack([mean0, pooled.slice([3, 0], [1, 32]).reshape([32])])))).dataSync()[0]!;
  assert.ok(diff < 1e-6, `mean pooling differs by ${diff}`);
  assert.deepEqual(initProjector(v.projectorSpec, 24, rand).apply(feats!).shape, [2, 10, 24]);
  await assert.rejects(v.preprocess([[frames[0], 'nope.png']], { rowId: 'v1' }), /row "v1": videos\[0\]\[1\]: .*no file loader/);
  configurePlatform({ videoFrameDecoder: null });
  await assert.rejects(v.preprocess(['clip.mp4'], { rowId: 'v2' }), /row "v2": videos\[0\]: cannot decode video files here: install ffmpeg \(apt-get install ffmpeg\) or pass frames/);
  v.dispose();
});

test('video_clip: ffmpeg decodes a video file into N evenly spaced frames', async (t) => {
  const saved = process.env.PATH;
  process.env.PATH = '/nonexistent';
  try {
    await assert.rejects(ffmpegVideoFrames(new Uint8Array(8), 2), /install ffmpeg \(apt-get install ffmpeg\) or pass frames/);
  } finally {
    process.env.PATH = saved;
  }
  if (!(await hasFfmpeg())) return skipMissingTool(t, 'ffmpeg/ffprobe not on PATH (apt-get install ffmpeg to run this)');
  const dir = await mkdtemp(join(tmpdir(), 'video-test-'));
  try {
    const file = join(dir, 'clip.mp4');
    // 2 s at 10 fps: red for the first second, blue for the second (mpeg4 is ffmpeg's built-in encoder).
    const r = spawnSync('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'color=c=red:s=48x32:r=10:d=1', '-f', 'lavfi', '-i', 'color=c=blue:s=48x32:r=10:d=1',
      '-filter_complex', '[0][1]concat=n=2:v=1', '-c:v', 'mpeg4', '-q:v', '2', file]);
    assert.equal(r.status, 0, r.stderr?.toString());
    const pngs = await ffmpegVideoFrames(await readFile(file), 4);
    assert.equal(pngs.length, 4);
    const images = await Promise.all(pngs.map((p) => loadImage(p)));
    const red = images.map((im) => im.data[0]! > 200 && im.data[2]! < 60);
    assert.deepEqual(red, [true, true, false, false], 'frames at 0.25, 0.75, 1.25, 1.75 s');
    const v = await VideoClipModality.create({ encoder: new MemorySource(tiny), numFrames: 2, decoder: ffmpegVideoFrames });
    const [feats] = await v.encode([await v.preprocess([file])]);
    assert.deepEqual(feats!.shape, [1, 1, 32]);
    v.dispose();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
