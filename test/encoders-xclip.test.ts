/**
 * X-CLIP's video embedding against an independent plain-PyTorch implementation of the same weights
 * (bench/reference/xclip_video_ref.py, fixture test/fixtures/xclip-video-ref.json): the encoder on the reference's
 * pixel values, and the whole `video_xclip` preprocessing (VideoMAE processor, Pillow bilinear) on its 8-bit frames.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { tf } from '../src/tf.js';
import { MemorySource } from '../src/io/source.js';
import { XCLIPVideoEncoder } from '../src/encoders/xclip-video.js';
import { parseXCLIPConfig } from '../src/encoders/xclip-config.js';
import { makeTinyXClip, type TinyXClipOptions } from '../src/tiny/tiny-xclip.js';
import { XClipVideoModality } from '../src/modality/video/video-xclip.js';
import { resampleFrames } from '../src/media/video-sampling.js';
import { buildModalities, modalityFromConfig } from '../src/modality/registry.js';
import { initProjector } from '../src/projector/index.js';
import '../src/modality/video/register.js';

await tf.setBackend('cpu');

interface Fixture {
  options: TinyXClipOptions;
  modelSha256: string;
  frames_shape: [number, number, number, number, number];
  frames_u8: string;
  pixel_values_shape: [number, number, number, number];
  pixel_values: string;
  video_features: number[][];
  video_embeds: number[][];
}
const fixture = JSON.parse(readFileSync(new URL('./fixtures/xclip-video-ref.json', import.meta.url), 'utf8')) as Fixture;
const files = makeTinyXClip(fixture.options);
const TOL = 1e-4;

function maxDiff(t: tf.Tensor, want: number[][]): number {
  const a = t.dataSync();
  const b = want.flat();
  assert.equal(a.length, b.length, 'element count');
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

test('the tiny X-CLIP weights are the ones the fixture was made from', () => {
  assert.equal(createHash('sha256').update(files.get('model.safetensors')!).digest('hex'), fixture.modelSha256, 'regenerate: npx tsx bench/reference/make_xclip_fixture.ts');
});

test('X-CLIP video embeddings match the PyTorch reference (≤ 1e-4)', async (t) => {
  const enc = await XCLIPVideoEncoder.load(new MemorySource(files));
  const px = new Float32Array(new Uint8Array(Buffer.from(fixture.pixel_values, 'base64')).buffer);
  const pixels = tf.tensor4d(px, fixture.pixel_values_shape);
  const feats = enc.forward(pixels, { normalize: false });
  const embeds = enc.forward(pixels);
  const df = maxDiff(feats, fixture.video_features);
  const de = maxDiff(embeds, fixture.video_embeds);
  t.diagnostic(`max |ours − torch|: video features ${df.toExponential(2)}, video embeds ${de.toExponential(2)}`);
  assert.ok(df <= TOL, `video features differ by ${df}`);
  assert.ok(de <= TOL, `video embeds differ by ${de}`);
  assert.deepEqual(embeds.shape, [2, enc.embedDim]);
  tf.dispose([pixels, feats, embeds]);
  enc.dispose();
});

test('video_xclip: frames → X-CLIP preprocessing → the reference embedding, 10 tokens, saved and rebuilt', async (t) => {
  const [v, T, h, w] = fixture.frames_shape;
  const u8 = Buffer.from(fixture.frames_u8, 'base64');
  const { RawImage } = await import('@huggingface/transformers');
  const video = (i: number) => Array.from({ length: T }, (_, f) => {
    const off = ((i * T + f) * h * w) * 3;
    return new RawImage(new Uint8ClampedArray(u8.subarray(off, off + h * w * 3)), w, h, 3);
  });
  const source = new MemorySource(new Map([...files].map(([k, b]) => [`xclip/${k}`, b])), 'mem:/ckpt');
  const [m] = await buildModalities('video_xclip', { source, options: { encoder: 'xclip' } });
  const mod = m as XClipVideoModality;
  assert.deepEqual([mod.name, mod.token, mod.dataKey, mod.tokenWidth, mod.projectorSpec.inputSize], ['video_xclip', '<video>', 'videos', 10, 16]);
  const batch = await mod.preprocess([video(0), video(1)]);
  const ref = new Float32Array(new Uint8Array(Buffer.from(fixture.pixel_values, 'base64')).buffer);
  let dp = 0;
  for (let i = 0; i < ref.length; i++) dp = Math.max(dp, Math.abs(batch.frames.pixels[i]! - ref[i]!));
  t.diagnostic(`max |ours − Pillow/numpy| pixel values: ${dp.toExponential(2)}`);
  assert.ok(dp <= 1e-5, `pixel values differ by ${dp}`);
  const [feats] = await mod.encode([batch]);
  assert.deepEqual(feats!.shape, [v, 1, 16]);
  assert.ok(maxDiff(feats!, fixture.video_embeds) <= TOL);
  assert.deepEqual(initProjector(mod.projectorSpec, 24, () => 0.5).apply(feats!).shape, [v, 10, 24]);
  const again = await modalityFromConfig(mod.toConfig(), { source });
  assert.deepEqual(again.toConfig(), { kind: 'video_xclip', name: 'video_xclip', token: '<video>', dataKey: 'videos', encoder: 'xclip', numTokens: 10, projectorLayers: 2 });
  feats!.dispose();
  mod.dispose();
  again.dispose?.();
});

test('frame lists are thinned or repeated to the model frame count; bad configs are named', () => {
  assert.deepEqual(resampleFrames([1, 2, 3, 4, 5, 6, 7, 8], 4), [2, 4, 6, 8], 'the middle of each quarter');
  assert.deepEqual(resampleFrames([1, 2], 4), [1, 1, 2, 2]);
  assert.throws(() => parseXCLIPConfig({ model_type: 'clip' }, 'x/config.json'), /x\/config.json: not an X-CLIP config/);
  assert.throws(() => parseXCLIPConfig({ projection_dim: 8, vision_config: { mit_hidden_size: 16 } }), /mit_hidden_size 16 must equal projection_dim 8/);
});
