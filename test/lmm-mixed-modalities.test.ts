import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PNG } from 'pngjs';
import { tf } from '../src/tf.js';
import '@tensorflow/tfjs-backend-wasm';
import { installKernelFallbacks } from '../src/backend-fallbacks.js';
import { MemorySource } from '../src/io/source.js';
import { loadLMM } from '../src/lmm/load.js';
import { generateBatch } from '../src/lmm/generate.js';
import { makeTinyMultimodalFiles } from '../src/tiny/tiny-multimodal.js';
import { encodeWav16, synthBeeps } from '../src/data/shapes-audio.js';

await tf.setBackend('wasm');
installKernelFallbacks('wasm');

function png(r: number, g: number, b: number, size = 32): string {
  const img = new PNG({ width: size, height: size });
  for (let i = 0; i < size * size; i++) img.data.set([r, g, b, 255], i * 4);
  return `data:image/png;base64,${PNG.sync.write(img).toString('base64')}`;
}

test('several instances and modalities in one prompt: <image> <image> and <speech>, each item changes the output', async () => {
  const files = await makeTinyMultimodalFiles({ arch: 'llama', modalities: ['vision_clip', 'audio_whisper'], hiddenSize: 32, numHiddenLayers: 1, seed: 4 });
  const lmm = await loadLMM(new MemorySource(files));
  assert.deepEqual(lmm.modalities.map((m) => [m.name, m.token, m.tokenWidth]), [['vision_clip', '<image>', 16], ['audio_whisper', '<speech>', 10]]);
  const wav = encodeWav16(synthBeeps(660, 2), 16000);
  const row = (second: string, speech: Uint8Array = wav) => ({
    id: 'mixed',
    messages: [{ role: 'user', content: 'Compare <image> and <image>, then answer the question asked in <speech>' }],
    images: [png(255, 0, 0), second],
    speech_audios: [speech],
  });
  const [a] = await generateBatch(lmm, [row(png(0, 0, 255))], { maxNewTokens: 4 });
  // Two 16-token image runs and one 10-token audio run in the prompt.
  assert.equal(a.promptIds.filter((x) => x === -1).length, 32);
  assert.equal(a.promptIds.filter((x) => x === -2).length, 10);
  assert.equal(a.completionTokens, 4);
  // The items reach the model: a different second image, or a different clip, changes the next-token distribution.
  const logitsFor = async (second: string, speech?: Uint8Array) => {
    const enc = lmm.encodeRow(row(second, speech), { mode: 'generate' });
    const { buildSpliceLayout } = await import('../src/splice/layout.js');
    const layout = buildSpliceLayout([enc], lmm.tokenWidths);
    const pre = await lmm.preprocess(lmm.modalities.map((_, m) => [enc.items[m]]), [enc.id]);
    const feats = await lmm.encode(pre, layout, [enc.id]);
    const out = tf.tidy(() => lmm.lm.forward({ inputsEmbeds: lmm.embed(layout, lmm.project(feats)), logits: 'last' }).logits!);
    const data = out.dataSync() as Float32Array;
    tf.dispose([...feats.filter((f): f is tf.Tensor => f !== null), out]);
    return data;
  };
  const blue = await logitsFor(png(0, 0, 255));
  const green = await logitsFor(png(0, 255, 0));
  let diff = 0;
  for (let i = 0; i < blue.length; i++) diff = Math.max(diff, Math.abs(blue[i] - green[i]));
  assert.ok(diff > 1e-4, `logits do not depend on the image (max diff ${diff})`);
  const otherClip = await logitsFor(png(0, 0, 255), encodeWav16(synthBeeps(440, 3), 16000));
  let speechDiff = 0;
  for (let i = 0; i < blue.length; i++) speechDiff = Math.max(speechDiff, Math.abs(blue[i] - otherClip[i]));
  assert.ok(speechDiff > 1e-4, `logits do not depend on the <speech> item (max diff ${speechDiff})`);
  const same = await logitsFor(png(0, 0, 255));
  assert.deepEqual(same, blue, 'the same items give the same logits, so the differences come from the items');
  // A mismatch between tokens and items names the row.
  await assert.rejects(generateBatch(lmm, [{ ...row(png(0, 0, 0)), images: [png(1, 1, 1)] }]), /row "mixed": 2 <image> token\(s\) in the text but 1 item\(s\) in "images"/);
  lmm.dispose();
});

test('make-tiny projector depth: 1 writes a linear projector (one weight and bias) that loads and runs', async () => {
  const { parseSafetensors } = await import('../src/io/safetensors.js');
  const build = async (projectorLayers?: number) => {
    const files = await makeTinyMultimodalFiles({ arch: 'llama', modalities: ['vision_clip'], hiddenSize: 32, numHiddenLayers: 1, seed: 4, projectorLayers });
    const config = JSON.parse(files.get('config.json') as string) as { multi_token: { modalities: { projectorLayers: number }[] } };
    const st = parseSafetensors(files.get('non_lora_trainables.safetensors') as Uint8Array);
    const lmm = await loadLMM(new MemorySource(files));
    const [out] = await generateBatch(lmm, [{ id: 'linear', messages: [{ role: 'user', content: 'Describe <image>' }], images: [png(255, 0, 0)] }], { maxNewTokens: 2 });
    assert.equal(out.completionTokens, 2);
    lmm.dispose();
    return { layers: config.multi_token.modalities[0].projectorLayers, tensors: [...st.tensors.keys()].filter((n) => n.includes('projector')).sort() };
  };
  const linear = await build(1);
  const mlp = await build();
  assert.equal(linear.layers, 1);
  assert.equal(mlp.layers, 2);
  assert.equal(linear.tensors.length, 2, linear.tensors.join(', '));
  assert.equal(mlp.tensors.length, 4, mlp.tensors.join(', '));
  await assert.rejects(makeTinyMultimodalFiles({ arch: 'llama', modalities: ['vision_clip'], projectorLayers: 0 }), /projector layers \(--projector_layers\) must be a positive integer/);
});
