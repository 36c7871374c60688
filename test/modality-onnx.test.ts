/**
 * ONNX encoders: the project's own tiny ONNX files (src/tiny/tiny-onnx.ts, serialized with protobufjs) run on
 * onnxruntime-node and match a hand computation; the `onnx` modality's pooling and projector choice; the
 * `audio_clap` and `imagebind` builders on tiny towers; errors that name the file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { PNG } from 'pngjs';
import '../node/platform.js';
import { tf } from '../src/tf.js';
import { MemorySource } from '../src/io/source.js';
import { buildModalities, modalityFromConfig } from '../src/modality/registry.js';
import '../src/modality/onnx/register.js';
import { OnnxModality } from '../src/modality/onnx/onnx-encoder.js';
import { ImageBindModality, imagebindRoute } from '../src/modality/onnx/imagebind.js';
import type { OnnxItemFeeds } from '../src/modality/onnx/onnx-preprocess.js';
import { decodeModelProto } from '../src/tiny/onnx-schema.js';
import { tinyOnnxEncoder, type TinyOnnxModel } from '../src/tiny/tiny-onnx.js';
import { makeTinyBert } from '../src/tiny/tiny-bert.js';

await tf.setBackend('cpu');

/** relu(x · W + b) for one feature vector, by hand. */
function dense(m: TinyOnnxModel, x: ArrayLike<number>): number[] {
  return Array.from({ length: m.outDim }, (_, o) => {
    let acc = m.bias[o]!;
    for (let i = 0; i < m.inDim; i++) acc += x[i]! * m.weight[i * m.outDim + o]!;
    return Math.max(acc, 0);
  });
}

const close = (got: ArrayLike<number>, want: number[], tol = 1e-5) => {
  assert.equal(got.length, want.length);
  for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got[i]! - want[i]!) < tol, `[${i}] ${got[i]} vs ${want[i]}`);
};

/** A [3, 4] item: three tokens of four features. */
const item = (k: number) => [0, 1, 2].map((t) => [0, 1, 2, 3].map((i) => Math.sin(k * 7 + t * 3 + i)));
const tiny = tinyOnnxEncoder({ inputShape: [3, 4], outDim: 5, pooledName: 'pooled', seed: 3 });
const folder = () => new MemorySource({ 'encoder.onnx': tiny.bytes }, 'mem:/enc');

test('the generated ModelProto decodes and runs on onnxruntime-node like the hand computation', async () => {
  const proto = decodeModelProto(tiny.bytes) as { ir_version: number; opset_import: { version: number }[]; graph: { node: { op_type: string }[] } };
  assert.equal(proto.ir_version, 7);
  assert.equal(proto.opset_import[0]!.version, 13);
  assert.deepEqual(proto.graph.node.map((n) => n.op_type), ['MatMul', 'Add', 'Relu', 'ReduceMean']);
  const session = await ort.InferenceSession.create(tiny.bytes);
  assert.deepEqual(session.inputNames, ['input']);
  assert.deepEqual(session.outputNames, ['last_hidden_state', 'pooled']);
  const x = [item(0), item(1)].flat(2);
  const out = await session.run({ input: new ort.Tensor('float32', Float32Array.from(x), [2, 3, 4]) });
  assert.deepEqual(out.last_hidden_state!.dims, [2, 3, 5]);
  const rows = [0, 1, 2, 3, 4, 5].map((r) => dense(tiny, x.slice(r * 4, r * 4 + 4)));
  close(out.last_hidden_state!.data as Float32Array, rows.flat());
  const mean = (b: number) => [0, 1, 2, 3, 4].map((o) => (rows[b * 3]![o]! + rows[b * 3 + 1]![o]! + rows[b * 3 + 2]![o]!) / 3);
  close(out.pooled!.data as Float32Array, [...mean(0), ...mean(1)]);
  await session.release();
});

test('onnx modality: pooling none keeps tokens (patch projector), mean/cls pool (vector projector)', async () => {
  const base = { name: 'sensor', model: 'encoder.onnx', input: 'input', preprocess: 'raw' };
  const [none] = await buildModalities('onnx', { source: folder(), options: { ...base, output: 'last_hidden_state' } });
  assert.ok(none instanceof OnnxModality);
  assert.deepEqual([none.token, none.dataKey, none.tokenWidth], ['<sensor>', 'sensors', 3]);
  assert.deepEqual(none.projectorSpec, { type: 'patch_mlp', inputSize: 5, layers: 2 });
  const [f] = await none.encode([await none.preprocess([item(0), item(1)])]);
  assert.deepEqual(f!.shape, [2, 3, 5]);
  const want = [item(0), item(1)].flat().map((tok) => dense(tiny, tok));
  close(f!.dataSync(), want.flat());

  const [mean] = await buildModalities('onnx', { source: folder(), options: { ...base, pooling: 'mean', numTokens: 3 } });
  assert.deepEqual([mean!.tokenWidth, mean!.projectorSpec], [3, { type: 'vector_mlp', inputSize: 5, layers: 2, numTokens: 3 }]);
  const [m] = await mean!.encode([await mean!.preprocess([item(1)])]);
  assert.deepEqual(m!.shape, [1, 1, 5]);
  close(m!.dataSync(), [0, 1, 2, 3, 4].map((o) => (want[3]![o]! + want[4]![o]! + want[5]![o]!) / 3));

  const [cls] = await buildModalities('onnx', { source: folder(), options: { ...base, pooling: 'cls' } });
  const [c] = await cls!.encode([await cls!.preprocess([item(1)])]);
  close(c!.dataSync(), want[3]!);

  const [pooled] = await buildModalities('onnx', { source: folder(), options: { ...base, output: 'pooled', numTokens: 2 } });
  assert.deepEqual([pooled!.tokenWidth, pooled!.projectorSpec.type], [2, 'vector_mlp']);
  const [p] = await pooled!.encode([await pooled!.preprocess([item(1)]), await pooled!.preprocess([])]);
  close(p!.dataSync(), Array.from(m!.dataSync()));
  const rebuilt = await modalityFromConfig(pooled!.toConfig(), { source: folder() });
  assert.deepEqual(rebuilt.toConfig(), pooled!.toConfig());
  tf.dispose([f!, m!, c!, p!]);
  for (const x of [none, mean, cls, pooled, rebuilt]) x!.dispose?.();
});

test('onnx modality: vector and text preprocessing', async () => {
  const vec = tinyOnnxEncoder({ inputShape: [6], outDim: 4, seed: 5 });
  const [v] = await buildModalities('onnx', {
    source: new MemorySource({ 'v.onnx': vec.bytes }),
    options: { name: 'state', model: 'v.onnx', preprocess: 'vector', numTokens: 2 },
  });
  const [fv] = await v!.encode([await v!.preprocess([[1, 2, 3, 4, 5, 6]])]);
  close(fv!.dataSync(), dense(vec, [1, 2, 3, 4, 5, 6]));
  await assert.rejects(v!.preprocess([[[1, 2], [3, 4]]], { rowId: 'q' }), /row "q": states\[0\]: a vector must be a flat array/);

  // A token-id tower with the tiny BERT tokenizer in the same folder; mean pooling over the tokens.
  const txt = tinyOnnxEncoder({ inputShape: [-1], vocabSize: 400, embedDim: 8, outDim: 6, inputName: 'input_ids', seed: 6 });
  const bert = makeTinyBert();
  const src = new MemorySource({ 't.onnx': txt.bytes, 'tokenizer.json': bert.get('tokenizer.json')!, 'tokenizer_config.json': bert.get('tokenizer_config.json')! });
  const [t] = await buildModalities('onnx', { source: src, options: { name: 'caption', model: 't.onnx', preprocess: 'text', pooling: 'mean' } });
  const pre = (await t!.preprocess(['red circle', 'a blue square'])) as OnnxItemFeeds[];
  const [ft] = await t!.encode([pre]);
  assert.deepEqual(ft!.shape, [2, 1, 6]);
  const ids = pre[0]!.feeds.input_ids!.data as BigInt64Array;
  const toks = Array.from(ids, (id) => dense(txt, txt.embedding!.subarray(Number(id) * 8, Number(id) * 8 + 8)));
  close(ft!.slice([0, 0, 0], [1, 1, 6]).dataSync(), [0, 1, 2, 3, 4, 5].map((o) => toks.reduce((s, r) => s + r[o]!, 0) / toks.length));
  tf.dispose([fv!, ft!]);
  v!.dispose?.();
  t!.dispose?.();
});

/** A mono 16-bit PCM WAV of a sine. */
function wav(rate: number, seconds: number, hz = 440): Uint8Array {
  const n = Math.round(rate * seconds);
  const buf = new DataView(new ArrayBuffer(44 + 2 * n));
  const tag = (at: number, s: string) => [...s].forEach((ch, i) => buf.setUint8(at + i, ch.charCodeAt(0)));
  tag(0, 'RIFF'), buf.setUint32(4, 36 + 2 * n, true), tag(8, 'WAVE'), tag(12, 'fmt ');
  buf.setUint32(16, 16, true), buf.setUint16(20, 1, true), buf.setUint16(22, 1, true), buf.setUint32(24, rate, true);
  buf.setUint32(28, rate * 2, true), buf.setUint16(32, 2, true), buf.setUint16(34, 16, true), tag(36, 'data');
  buf.setUint32(40, 2 * n, true);
  for (let i = 0; i < n; i++) buf.setInt16(44 + 2 * i, Math.round(8000 * Math.sin((2 * Math.PI * hz * i) / rate)), true);
  return new Uint8Array(buf.buffer);
}

test('audio_clap builder: the seed\'s shape on a tiny CLAP-layout ONNX export', async () => {
  // CLAP's audio tower takes [batch, 1, frames, 64] log-mels and returns 512-d audio_embeds.
  const clap = tinyOnnxEncoder({ inputName: 'input_features', inputShape: [1, -1, 64], reduceAxes: [1, 2], outDim: 512, outputName: 'audio_embeds', seed: 7 });
  const src = new MemorySource({ 'clap/onnx/audio_model.onnx': clap.bytes }, 'mem:/ckpt');
  const [m] = await buildModalities('audio_clap', { source: src, options: { encoder: 'clap' } });
  assert.deepEqual([m!.name, m!.token, m!.dataKey, m!.tokenWidth], ['audio_clap', '<sound>', 'sounds', 5]);
  assert.deepEqual(m!.projectorSpec, { type: 'vector_mlp', inputSize: 512, layers: 2, numTokens: 5 });
  const ctx = { loadBytes: async () => wav(16000, 0.5) };
  const pre = (await m!.preprocess(['tone.wav', { array: new Float32Array(4800).fill(0.1), sampling_rate: 48000 }], ctx)) as OnnxItemFeeds[];
  assert.deepEqual(pre[0]!.feeds.input_features!.dims, [1, 1, 1001, 64]);
  const [f] = await m!.encode([pre]);
  assert.deepEqual(f!.shape, [2, 1, 512]);
  assert.ok(f!.dataSync().every(Number.isFinite));
  assert.equal(m!.toConfig().kind, 'onnx');
  f!.dispose();
  m!.dispose?.();
});

test('audio_clap log-mel equals an independent NumPy reference of the seed\'s extractor (repeatpad and cut clips)', async () => {
  // test/fixtures/clap-logmel-ref.json is written by bench/reference/clap_logmel_ref.py, which shares no code with
  // transformers.js: Slaney mel filters, centred periodic-Hann STFT, power → dB, repeatpad, all in float64.
  const ref = JSON.parse(readFileSync(new URL('./fixtures/clap-logmel-ref.json', import.meta.url), 'utf8')) as {
    config: Record<string, number>;
    cases: { name: string; pcm16: string; mel: string; shape: [number, number]; is_longer: boolean }[];
  };
  const clap = tinyOnnxEncoder({ inputName: 'input_features', inputShape: [1, -1, 64], reduceAxes: [1, 2], outDim: 512, outputName: 'audio_embeds', seed: 7 });
  const src = new MemorySource({ 'clap/onnx/audio_model.onnx': clap.bytes, 'clap/preprocessor_config.json': JSON.stringify(ref.config) }, 'mem:/ckpt');
  const [m] = await buildModalities('audio_clap', { source: src, options: { encoder: 'clap' } });
  for (const c of ref.cases) {
    const pcm = new Int16Array(new Uint8Array(Buffer.from(c.pcm16, 'base64')).buffer);
    const samples = Float32Array.from(pcm, (v) => v / 32767);
    const expected = new Float32Array(new Uint8Array(Buffer.from(c.mel, 'base64')).buffer);
    const [item] = (await m!.preprocess([{ array: samples, sampling_rate: ref.config.sampling_rate }])) as OnnxItemFeeds[];
    const mel = item!.feeds.input_features!;
    assert.deepEqual(mel.dims, [1, 1, ...c.shape], c.name);
    let worst = 0;
    (mel.data as Float32Array).forEach((v, i) => (worst = Math.max(worst, Math.abs(v - expected[i]!))));
    // Values span -100 (the 1e-10 floor, on the zero padding) to +20 dB; measured worst 3e-5 dB (float32 output).
    assert.ok(worst < 1e-3, `${c.name}: log-mel differs from the reference by ${worst} dB`);
  }
  m!.dispose?.();
});

test('audio_whisper_mel preprocessing feeds Whisper log-mels from the folder\'s preprocessor_config.json', async () => {
  const enc = tinyOnnxEncoder({ inputName: 'input_features', inputShape: [80, 3000], reduceAxes: [2], outDim: 8, seed: 8 });
  const config = { feature_extractor_type: 'WhisperFeatureExtractor', feature_size: 80, sampling_rate: 16000, hop_length: 160, n_fft: 400, chunk_length: 30 };
  const src = new MemorySource({ 'w.onnx': enc.bytes, 'preprocessor_config.json': JSON.stringify(config) });
  const [m] = await buildModalities('onnx', { source: src, options: { name: 'speech', model: 'w.onnx', preprocess: 'audio_whisper_mel', numTokens: 3 } });
  const pre = (await m!.preprocess([{ array: new Float32Array(8000).map((_, i) => Math.sin(i / 5)), sampling_rate: 16000 }])) as OnnxItemFeeds[];
  const mel = pre[0]!.feeds.input_features!;
  assert.deepEqual(mel.dims, [1, 80, 3000]);
  const [f] = await m!.encode([pre]);
  const means = Array.from({ length: 80 }, (_, r) => (mel.data as Float32Array).subarray(r * 3000, r * 3000 + 3000).reduce((a, b) => a + b, 0) / 3000);
  close(f!.dataSync(), dense(enc, means), 1e-4);
  assert.equal(m!.tokenWidth, 3);
  f!.dispose();
  m!.dispose?.();
});

test('imagebind builder: vision, audio and text towers in one space, items routed like the seed', async () => {
  const vision = tinyOnnxEncoder({ inputShape: [3, -1, -1], reduceAxes: [2, 3], outDim: 16, outputName: 'embeds', seed: 11 });
  const audio = tinyOnnxEncoder({ inputShape: [-1], reduceAxes: [1], keepDims: true, outDim: 16, outputName: 'embeds', seed: 12 });
  const text = tinyOnnxEncoder({ inputShape: [-1], vocabSize: 400, outDim: 16, outputName: 'tokens', pooledName: 'embeds', inputName: 'input_ids', seed: 13 });
  const bert = makeTinyBert({ maxPositions: 12 });
  const src = new MemorySource({
    'ib/vision.onnx': vision.bytes,
    'ib/audio.onnx': audio.bytes,
    'ib/text.onnx': text.bytes,
    'ib/tokenizer.json': bert.get('tokenizer.json')!,
    'ib/tokenizer_config.json': bert.get('tokenizer_config.json')!,
  });
  const [m] = await buildModalities('imagebind', { source: src, options: { encoder: 'ib', text: { output: 'embeds' } } });
  assert.ok(m instanceof ImageBindModality);
  assert.deepEqual([m.name, m.token, m.dataKey, m.tokenWidth, Object.keys(m.towers)], ['imagebind', '<imagebind>', 'imagebinds', 4, ['vision', 'audio', 'text']]);
  assert.deepEqual(m.projectorSpec, { type: 'vector_mlp', inputSize: 16, layers: 2, numTokens: 4 });
  const png = new PNG({ width: 20, height: 10 });
  png.data.fill(200);
  const files: Record<string, Uint8Array> = { 'a/cat.PNG': PNG.sync.write(png), 'b/dog.wav': wav(8000, 0.25) };
  const ctx = { loadBytes: async (ref: string) => files[ref]! };
  const pre = await m.preprocess(['a/cat.PNG', 'b/dog.wav', 'a red circle'], ctx);
  assert.deepEqual(pre.map((p) => p.part), ['vision', 'audio', 'text']);
  assert.deepEqual(pre[0]!.feeds.feeds.input!.dims, [1, 3, 224, 224]);
  assert.deepEqual(pre[1]!.feeds.feeds.input!.dims, [1, 4000]);
  assert.deepEqual(pre[2]!.feeds.feeds.input_ids!.dims, [1, 12]);
  const [f] = await m.encode([pre]);
  assert.deepEqual(f!.shape, [3, 1, 16]);
  const samples = pre[1]!.feeds.feeds.input!.data as Float32Array;
  close(f!.slice([1, 0, 0], [1, 1, 16]).dataSync(), dense(audio, [samples.reduce((a, b) => a + b, 0) / samples.length]), 1e-4);
  assert.deepEqual(imagebindRoute('https://x/y.jpeg?s=1').part, 'vision');
  assert.deepEqual(imagebindRoute({ text: 'cat.png' }), { part: 'text', value: 'cat.png' });
  const back = await modalityFromConfig(m.toConfig(), { source: src });
  assert.deepEqual(Object.keys((back as ImageBindModality).towers), ['vision', 'audio', 'text']);
  back.dispose?.();
  f!.dispose();
  m.dispose();

  const onlyText = await buildModalities('imagebind', { source: src, options: { encoder: 'ib', vision: false, audio: false, text: { output: 'embeds' } } });
  await assert.rejects(onlyText[0]!.preprocess(['x.wav'], { rowId: 'z' }), /row "z": imagebinds\[0\]: is audio, but this imagebind model has no audio tower \(it has: text\)/);
  onlyText[0]!.dispose?.();
  await assert.rejects(buildModalities('imagebind', { source: new MemorySource({}, 'mem:/empty') }), /no tower found in mem:\/empty/);
  await assert.rejects(
    buildModalities('imagebind', { source: src, options: { encoder: 'ib', text: { output: 'tokens' } } }),
    /text tower: memory:\/ib\/text\.onnx: output "tokens" has no fixed token count/,
  );
});

test('errors name the ONNX file: missing file, wrong input or output name, bad options', async () => {
  const opts = { name: 'x', model: 'encoder.onnx', preprocess: 'raw' };
  await assert.rejects(
    buildModalities('onnx', { source: folder(), options: { ...opts, model: 'nope.onnx' } }),
    /modality "x": missing ONNX model mem:\/enc\/nope\.onnx/,
  );
  await assert.rejects(
    buildModalities('onnx', { source: folder(), options: { ...opts, input: 'pixel_values' } }),
    /mem:\/enc\/encoder\.onnx has no input "pixel_values" \(its inputs: input\)/,
  );
  await assert.rejects(
    buildModalities('onnx', { source: folder(), options: { ...opts, output: 'embeds' } }),
    /mem:\/enc\/encoder\.onnx has no output "embeds" \(its outputs: last_hidden_state, pooled\)/,
  );
  await assert.rejects(
    buildModalities('onnx', { source: folder(), options: { ...opts, output: 'pooled', pooling: 'mean' } }),
    /encoder\.onnx: output "pooled" is \[batch, D\], already pooled/,
  );
  await assert.rejects(buildModalities('onnx', { source: folder(), options: { ...opts, featureDim: 7 } }), /has 5 features, but featureDim is 7/);
  await assert.rejects(buildModalities('onnx', { source: folder(), options: { ...opts, preprocess: 'jpeg' } }), /option "preprocess" must be one of/);
  await assert.rejects(buildModalities('onnx', { source: folder(), options: { name: 'x', model: 'encoder.onnx' } }), /option "preprocess" is required/);
  const corrupt = new MemorySource({ 'encoder.onnx': new Uint8Array([1, 2, 3]) }, 'mem:/bad');
  await assert.rejects(buildModalities('onnx', { source: corrupt, options: opts }), /could not load ONNX model mem:\/bad\/encoder\.onnx/);
  const [m] = await buildModalities('onnx', { source: folder(), options: opts });
  await assert.rejects(m!.encode([await m!.preprocess([[[1, 2, 3]]])]), /encoder\.onnx failed to run/);
  m!.dispose?.();
});
