import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { tf } from '../src/tf.js';
import { MemorySource } from '../src/io/source.js';
import { float32ToRaw, parseSafetensors, serializeSafetensors, type RawTensor } from '../src/io/safetensors.js';
import { CLIPVisionEncoder } from '../src/encoders/clip-vision.js';
import { parseCLIPVisionConfig } from '../src/encoders/clip-config.js';
import { PatchEmbedding } from '../src/encoders/patch-embed.js';
import { OPENAI_CLIP_MEAN, OPENAI_CLIP_STD, makeTinyClipVision, tinyClipVisionConfigJSON } from '../src/tiny/tiny-clip.js';

interface Fixture {
  options: { seed: number };
  modelSha256: string;
  crops_u8: string;
  crops_shape: number[];
  last_hidden_state: number[][][];
  pooled: number[][];
  hidden_state_minus_2: number[][][];
  num_hidden_states: number;
}
const fixture = JSON.parse(readFileSync(new URL('./fixtures/clip-vision-ref.json', import.meta.url), 'utf8')) as Fixture;

const tiny = makeTinyClipVision(fixture.options);
const load = (files: Map<string, Uint8Array>) => CLIPVisionEncoder.load(new MemorySource(files));

/** The fixture's 8-bit crops [n, H, W, 3] normalised as CLIPImageProcessor does, as NCHW pixel values. */
function fixturePixels(): tf.Tensor4D {
  const [n, h, w, c] = fixture.crops_shape as [number, number, number, number];
  const u8 = Buffer.from(fixture.crops_u8, 'base64');
  const out = new Float32Array(n * c * h * w);
  for (let i = 0; i < n; i++)
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++)
        for (let k = 0; k < c; k++) {
          const v = Math.fround(u8[((i * h + y) * w + x) * c + k]! / 255);
          out[((i * c + k) * h + y) * w + x] = (v - OPENAI_CLIP_MEAN[k]!) / OPENAI_CLIP_STD[k]!;
        }
  return tf.tensor4d(out, [n, c, h, w]);
}

function maxDiff(t: tf.Tensor, want: unknown): number {
  const a = t.dataSync();
  const b = (want as number[]).flat(3) as number[];
  assert.equal(a.length, b.length, 'element count');
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** The tiny checkpoint with its weights renamed (and optionally extended). */
function renamed(rename: (k: string) => string, extra: Record<string, RawTensor> = {}): Map<string, Uint8Array> {
  const { tensors } = parseSafetensors(tiny.get('model.safetensors')!, 'tiny');
  const m = new Map<string, RawTensor>();
  for (const [k, v] of tensors) m.set(rename(k), v);
  for (const [k, v] of Object.entries(extra)) m.set(k, v);
  return new Map([...tiny, ['model.safetensors', serializeSafetensors(m)]]);
}

test('config: CLIPVisionConfig at top level, CLIPModel vision_config with HF defaults, bad sizes', () => {
  const c = parseCLIPVisionConfig(tinyClipVisionConfigJSON());
  assert.deepEqual(
    [c.hiddenSize, c.imageSize, c.patchSize, c.numHiddenLayers, c.numAttentionHeads, c.intermediateSize, c.hiddenAct],
    [32, 32, 8, 2, 2, 64, 'quick_gelu'],
  );
  const full = parseCLIPVisionConfig({ model_type: 'clip', text_config: {}, vision_config: { hidden_size: 1024, num_attention_heads: 16, patch_size: 14, image_size: 336 } });
  assert.deepEqual([full.hiddenSize, full.patchSize, full.imageSize, full.numHiddenLayers, full.layerNormEps], [1024, 14, 336, 12, 1e-5]);
  assert.throws(() => parseCLIPVisionConfig({ model_type: 'llama', hidden_size: 8 }, 'x/config.json'), /x\/config.json: not a CLIP vision config/);
  assert.throws(() => parseCLIPVisionConfig({ ...tinyClipVisionConfigJSON(), patch_size: 7 }), /image_size 32 is not a multiple of patch_size 7/);
});

test('load: shapes, sizes, HF hidden_states layout; dispose frees every tensor', async () => {
  const before = tf.memory().numTensors;
  const enc = await load(tiny);
  assert.equal(enc.numPatches, 16);
  assert.equal(enc.hiddenSize, 32);
  const x = tf.randomNormal([2, 3, 32, 32], 0, 1, 'float32', 1);
  const out = enc.forward(x, { outputHiddenStates: true });
  assert.deepEqual(out.lastHiddenState.shape, [2, 17, 32]);
  assert.deepEqual(out.pooled.shape, [2, 32]);
  assert.equal(out.hiddenStates!.length, 3);
  assert.ok(maxDiff(out.hiddenStates![2]!, [...out.lastHiddenState.dataSync()]) === 0, 'last hidden state is the last entry');
  const m2 = enc.hiddenState(x, -2);
  assert.ok(maxDiff(m2, [...out.hiddenStates![1]!.dataSync()]) < 1e-6, 'hiddenState(-2) = hidden_states[-2]');
  const plain = enc.forward(x);
  assert.equal(plain.hiddenStates, undefined);
  tf.dispose([plain.lastHiddenState, plain.pooled]);
  assert.throws(() => enc.hiddenState(x, 3), /hidden state index 3 is out of range for 2 layers/);
  const wrong = tf.zeros([1, 3, 24, 24]);
  assert.throws(() => enc.forward(wrong), /pixel values have shape \[1,3,24,24\], expected \[n, 3, 32, 32\]/);
  tf.dispose([x, wrong, out.lastHiddenState, out.pooled, ...out.hiddenStates!, m2]);
  enc.dispose();
  assert.equal(tf.memory().numTensors, before);
});

test('reference: matches the independent PyTorch CLIPVisionModel within 1e-4', async () => {
  const sha = createHash('sha256').update(tiny.get('model.safetensors')!).digest('hex');
  assert.equal(sha, fixture.modelSha256, 'makeTinyClipVision changed: regenerate with npx tsx bench/reference/make_clip_fixture.ts');
  const enc = await load(tiny);
  const x = fixturePixels();
  const out = enc.forward(x, { outputHiddenStates: true });
  assert.equal(out.hiddenStates!.length, fixture.num_hidden_states);
  const diffs = {
    last: maxDiff(out.lastHiddenState, fixture.last_hidden_state),
    pooled: maxDiff(out.pooled, fixture.pooled),
    minus2: maxDiff(out.hiddenStates![out.hiddenStates!.length - 2]!, fixture.hidden_state_minus_2),
  };
  if (process.env.CLIP_REF_VERBOSE) console.log(diffs);
  for (const [k, d] of Object.entries(diffs)) assert.ok(d < 1e-4, `${k}: max |diff| ${d}`);
  enc.dispose();
});

test('weights: without prefix, and a full CLIPModel checkpoint, give the same outputs', async () => {
  const x = fixturePixels();
  const ref = await load(tiny);
  const want = [...ref.forward(x).pooled.dataSync()];
  const f32 = (shape: number[]) => float32ToRaw(new Float32Array(shape.reduce((a, b) => a * b, 1)), shape, 'F32');
  const variants = {
    bare: renamed((k) => k.replace(/^vision_model\./, '')),
    clipModel: renamed((k) => k, {
      'text_model.embeddings.token_embedding.weight': f32([10, 8]),
      'text_model.final_layer_norm.weight': f32([8]),
      'visual_projection.weight': f32([16, 32]),
      'text_projection.weight': f32([16, 8]),
      logit_scale: f32([]),
      'vision_model.embeddings.position_ids': { dtype: 'I64', shape: [1, 17], data: new Uint8Array(17 * 8) },
    }),
  };
  for (const [name, files] of Object.entries(variants)) {
    const enc = await load(files);
    assert.equal(maxDiff(enc.forward(x).pooled, want), 0, name);
    enc.dispose();
  }
  ref.dispose();
});

test('weights: missing, mis-shaped, or more layers than the config are errors naming the tensor', async () => {
  await assert.rejects(load(renamed((k) => k.replace('layers.1.mlp.fc2.bias', 'layers.1.mlp.fc2.b'))), /missing weight "vision_model.encoder.layers.1.mlp.fc2.bias"/);
  const cfg3 = new TextEncoder().encode(JSON.stringify({ ...tinyClipVisionConfigJSON(), num_hidden_layers: 1 }));
  await assert.rejects(load(new Map([...tiny, ['config.json', cfg3]])), /weights not used by a 1-layer CLIP vision config: vision_model.encoder.layers.1/);
  const cfgWide = new TextEncoder().encode(JSON.stringify({ ...tinyClipVisionConfigJSON(), intermediate_size: 48 }));
  await assert.rejects(load(new Map([...tiny, ['config.json', cfgWide]])), /"vision_model.encoder.layers.0.mlp.fc1.weight" in memory: has shape \[64, 32\], expected \[48, 32\]/);
  await assert.rejects(load(renamed((k) => k.replace('patch_embedding', 'patch_embed'))), /no CLIP vision weights/);
});

test('patch embedding: equals the convolution written out as loops over patches', () => {
  const [hid, c, p, n, h, w] = [5, 3, 4, 2, 12, 8];
  const wt = tf.randomNormal([hid, c, p, p], 0, 1, 'float32', 3);
  const x = tf.randomNormal([n, c, h, w], 0, 1, 'float32', 4);
  const pe = new PatchEmbedding(wt, p);
  const got = pe.apply(x);
  const [W, X] = [wt.dataSync(), x.dataSync()];
  const want: number[] = [];
  for (let i = 0; i < n; i++)
    for (let gy = 0; gy < h / p; gy++)
      for (let gx = 0; gx < w / p; gx++)
        for (let o = 0; o < hid; o++) {
          let s = 0;
          for (let k = 0; k < c; k++)
            for (let y = 0; y < p; y++)
              for (let z = 0; z < p; z++) s += W[((o * c + k) * p + y) * p + z]! * X[((i * c + k) * h + gy * p + y) * w + gx * p + z]!;
          want.push(s);
        }
  assert.deepEqual(got.shape, [2, 6, 5]);
  assert.ok(maxDiff(got, want) < 1e-5);
  assert.throws(() => pe.apply(tf.zeros([1, 3, 10, 8])), /expected \[n, 3, H, W\] with H and W multiples of 4/);
  pe.dispose();
});

test('patch embedding: the training path (patchify + matmul) equals the conv and trains the filter', async () => {
  const { PatchEmbedding } = await import('../src/encoders/patch-embed.js');
  const w = tf.randomNormal([6, 3, 4, 4], 0, 1, 'float32', 5);
  const pe = new PatchEmbedding(w, 4);
  const x = tf.randomNormal([2, 3, 8, 12], 0, 1, 'float32', 6);
  const conv = pe.apply(x).arraySync() as number[][][];
  pe.filter.trainable = true;
  const { value, grads } = tf.variableGrads(() => {
    const y = pe.apply(x);
    const d = y.arraySync() as number[][][];
    for (let i = 0; i < 2; i++) for (let t = 0; t < 6; t++) for (let k = 0; k < 6; k++) assert.ok(Math.abs(d[i][t][k] - conv[i][t][k]) < 1e-4);
    return tf.sum(y) as tf.Scalar;
  }, [pe.filter]);
  assert.ok(Number.isFinite(value.dataSync()[0]));
  assert.deepEqual(grads[pe.filter.name].shape, [4, 4, 3, 6]);
  pe.dispose();
});
