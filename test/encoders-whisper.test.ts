import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { tf } from '../src/tf.js';
import { MemorySource } from '../src/io/source.js';
import { WeightStore } from '../src/io/weights.js';
import { parseSafetensors } from '../src/io/safetensors.js';
import { WhisperEncoder } from '../src/encoders/whisper-encoder.js';
import { WhisperDecoderStep } from '../src/encoders/whisper-decoder-step.js';
import { parseWhisperConfig } from '../src/encoders/whisper-config.js';
import { makeTinyWhisperEncoder } from '../src/tiny/tiny-whisper.js';
import { loadWhisperFeatures } from '../src/modality/audio-whisper/whisper-features.js';
import { WHISPER_REF_CASE, whisperRefInputs, whisperRefWaveform } from '../bench/reference/whisper-ref-case.js';

await tf.setBackend('cpu');

interface Packed {
  shape: number[];
  data: number[];
}
const ref = JSON.parse(await readFile(new URL('./fixtures/whisper-encoder-ref.json', import.meta.url), 'utf8')) as {
  case: unknown;
  encoder: Packed[];
  decoder_state: Packed[];
  log_mel: Packed;
};

function maxAbsDiff(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  assert.equal(actual.length, expected.length, 'length');
  let m = 0;
  for (let i = 0; i < expected.length; i++) m = Math.max(m, Math.abs(actual[i]! - expected[i]!));
  return m;
}

function storeOf(files: Map<string, Uint8Array>): WeightStore {
  return new WeightStore(parseSafetensors(files.get('model.safetensors')!).tensors, 'memory:');
}

test('the fixture was made from the current reference case', () => {
  // If this fails, the case or the tiny generator changed: regenerate the fixture (see whisper-ref-case.ts).
  assert.deepEqual(ref.case, JSON.parse(JSON.stringify(WHISPER_REF_CASE)));
});

test('tiny checkpoint: real config fields, HF weight names, every layout', () => {
  const files = makeTinyWhisperEncoder({ maxSourcePositions: 8 });
  assert.deepEqual([...files.keys()].sort(), ['config.json', 'model.safetensors', 'preprocessor_config.json']);
  const names = storeOf(files).keys();
  for (const n of [
    'model.encoder.conv1.weight',
    'model.encoder.conv2.bias',
    'model.encoder.embed_positions.weight',
    'model.encoder.layers.1.self_attn.q_proj.bias',
    'model.encoder.layers.0.self_attn.out_proj.weight',
    'model.encoder.layers.0.fc2.weight',
    'model.encoder.layer_norm.bias',
    'model.decoder.layers.0.encoder_attn.k_proj.weight',
  ]) {
    assert.ok(names.includes(n), n);
  }
  assert.ok(!names.some((n) => n.endsWith('k_proj.bias')), 'k_proj has no bias');
  const shapes = parseSafetensors(files.get('model.safetensors')!).tensors;
  assert.deepEqual(shapes.get('model.encoder.conv1.weight')!.shape, [32, 80, 3]);
  assert.deepEqual(shapes.get('model.encoder.embed_positions.weight')!.shape, [8, 32]);
  const config = parseWhisperConfig(JSON.parse(new TextDecoder().decode(files.get('config.json'))));
  assert.equal(config.dModel, 32);
  assert.equal(config.decoderStartTokenId, 61);
  const pre = JSON.parse(new TextDecoder().decode(files.get('preprocessor_config.json')));
  assert.equal(pre.nb_max_frames, 16);
  assert.equal(pre.n_samples, 2560);
  assert.equal(JSON.parse(new TextDecoder().decode(makeTinyWhisperEncoder().get('preprocessor_config.json'))).chunk_length, 30);

  const model = storeOf(makeTinyWhisperEncoder({ layout: 'model', maxSourcePositions: 8 })).keys();
  assert.ok(model.includes('encoder.conv1.weight') && model.includes('decoder.embed_tokens.weight'));
  const encOnly = storeOf(makeTinyWhisperEncoder({ layout: 'encoder-only', maxSourcePositions: 8 })).keys();
  assert.ok(encOnly.every((n) => n.startsWith('encoder.')));
});

test('WhisperEncoder matches the PyTorch reference (full window and an odd frame count)', async () => {
  const encoder = await WhisperEncoder.load(new MemorySource(makeTinyWhisperEncoder(WHISPER_REF_CASE.model)));
  const inputs = whisperRefInputs();
  for (let i = 0; i < inputs.length; i++) {
    const x = tf.tensor3d(inputs[i]!.data, inputs[i]!.shape as [number, number, number]);
    const y = encoder.forward(x);
    assert.deepEqual(y.shape, ref.encoder[i]!.shape);
    const diff = maxAbsDiff(y.dataSync(), ref.encoder[i]!.data);
    assert.ok(diff < 1e-4, `input ${i}: max |Δ| ${diff}`);
    x.dispose();
    y.dispose();
  }
  encoder.dispose();
});

test("the seed's feature (decoder state at the start token) matches the reference", async () => {
  const files = makeTinyWhisperEncoder(WHISPER_REF_CASE.model);
  const config = parseWhisperConfig(JSON.parse(new TextDecoder().decode(files.get('config.json'))));
  const store = storeOf(files);
  const encoder = WhisperEncoder.fromWeights(store, config);
  const step = WhisperDecoderStep.fromWeights(store, config);
  const before = tf.memory().numTensors;
  whisperRefInputs().forEach(({ shape, data }, i) => {
    const states = tf.tidy(() => step.apply(encoder.forward(tf.tensor3d(data, shape as [number, number, number]))));
    assert.deepEqual(states.shape, ref.decoder_state[i]!.shape);
    const diff = maxAbsDiff(states.dataSync(), ref.decoder_state[i]!.data);
    assert.ok(diff < 1e-4, `input ${i}: max |Δ| ${diff}`);
    states.dispose();
  });
  assert.equal(tf.memory().numTensors, before, 'no tensors leak');
  assert.deepEqual(store.unused(), [], 'every weight of a WhisperForConditionalGeneration checkpoint is used');
  encoder.dispose();
  step.dispose();
});

test('same outputs from WhisperModel and encoder-only name layouts', async () => {
  const x = tf.tensor3d(whisperRefInputs()[0]!.data, [2, 80, 16]);
  const outs: Float32Array[] = [];
  for (const layout of ['conditional-generation', 'model', 'encoder-only'] as const) {
    const enc = await WhisperEncoder.load(new MemorySource(makeTinyWhisperEncoder({ ...WHISPER_REF_CASE.model, layout })));
    const y = enc.forward(x);
    outs.push(y.dataSync() as Float32Array);
    y.dispose();
    enc.dispose();
  }
  assert.ok(maxAbsDiff(outs[1]!, outs[0]!) === 0 && maxAbsDiff(outs[2]!, outs[0]!) === 0);
  x.dispose();
});

test('clear errors: wrong mel count, too many frames, no encoder weights, no decoder', async () => {
  const files = makeTinyWhisperEncoder({ maxSourcePositions: 8 });
  const enc = await WhisperEncoder.load(new MemorySource(files));
  assert.throws(() => enc.forward(tf.zeros([1, 40, 16])), /\[n, 80, frames\]/);
  assert.throws(() => enc.forward(tf.zeros([1, 80, 17])), /1 to 16 \(max_source_positions 8/);
  enc.dispose();
  const noWeights = new MemorySource({ 'config.json': files.get('config.json')!, 'model.safetensors': files.get('model.safetensors')! });
  noWeights.files.set('model.safetensors', makeTinyWhisperEncoder({ layout: 'encoder-only', maxSourcePositions: 8 }).get('model.safetensors')!);
  const config = parseWhisperConfig(JSON.parse(new TextDecoder().decode(files.get('config.json'))));
  const encOnly = storeOf(noWeights.files);
  assert.equal(WhisperDecoderStep.available(encOnly), false);
  assert.throws(() => WhisperDecoderStep.fromWeights(encOnly, config), /no Whisper decoder weights.*pooling "mean"/);
  const empty = new WeightStore(new Map(), 'x');
  assert.throws(() => WhisperEncoder.fromWeights(empty, config), /no Whisper encoder weights/);
  assert.throws(() => parseWhisperConfig({ model_type: 'whisper', d_model: 32 }, 'c.json'), /c.json: missing required field "encoder_layers"/);
});

test("transformers.js's WhisperFeatureExtractor (via the checkpoint's preprocessor_config.json) matches HF's log-mel", async () => {
  const features = await loadWhisperFeatures(new MemorySource(makeTinyWhisperEncoder(WHISPER_REF_CASE.model)));
  assert.equal(features.samplingRate, 16000);
  assert.equal(features.frames, 16);
  const mel = await features.extract(whisperRefWaveform());
  assert.equal(mel.length, 80 * 16);
  const diff = maxAbsDiff(mel, ref.log_mel.data);
  assert.ok(diff < 1e-4, `log-mel max |Δ| ${diff}`);
});
