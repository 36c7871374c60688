/**
 * Packed frozen weights on tfjs's webgpu backend (kernels/frozen-weight-webgpu.ts, Dawn + SwiftShader): a q4
 * checkpoint loaded with `loadLMM` keeps its Linear weights packed and decodes like tfjs on the dequantized
 * weights; f16 too; the backward product `dy · W` (LoRA through a frozen layer) equals the float32 one; the GPU
 * dequantize kernel equals `dequantizeRows` bit for bit.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { startNodeWebGPU } from './helpers/node-webgpu.js';
import { skipMissingTool } from './helpers/missing-tool.js';
import { tf } from '../src/tf.js';
import { MemorySource } from '../src/io/source.js';
import { loadLMM } from '../src/lmm/load.js';
import { generateBatch } from '../src/lmm/generate.js';
import { makeTinyLMFiles } from '../src/tiny/tiny-lmm.js';
import { frozenMatMul } from '../src/nn/frozen-weight.js';
import { registerWebGPUKernels } from '../kernels/register.js';
import { webgpuFrozenWeightPlacer } from '../kernels/frozen-weight-webgpu.js';
import { dequantizeOnDevice } from '../kernels/dequantize.js';
import { dequantize } from '../kernels/packed-weight.js';
import { packedToTensors, disposePacked } from '../kernels/dequant-matmul.js';
import { dequantCases, packRandom } from './kernels-dequant-cases.js';
import { quantizeFiles } from './helpers/quantize-in-memory.js';
import { float32ToRaw, parseSafetensors, rawToFloat32, serializeSafetensors } from '../src/io/safetensors.js';
import { f16BytesToFloat32, float32ToHalfBytes } from '../src/io/half-float.js';

let skip: string | false = false;
before(async () => {
  skip = await startNodeWebGPU();
  if (skip) return;
  await import('@tensorflow/tfjs-backend-webgpu');
});

const row = { messages: [{ role: 'user' as const, content: 'Hello, who are you?' }] };
const files = (m: Map<string, Uint8Array | string>) => new MemorySource(Object.fromEntries(m));

test('a q4 checkpoint loaded by loadLMM on webgpu stays packed and decodes like tfjs on its dequantized weights', { timeout: 240_000 }, async (t) => {
  if (skip) return skipMissingTool(t, skip);
  await tf.setBackend('cpu');
  const lm = await makeTinyLMFiles({ arch: 'llama', seed: 4, hiddenSize: 64, numHiddenLayers: 2 });
  const { quantized, float } = quantizeFiles(lm, { bits: 4, groupSize: 32, sym: false });
  const ref = await loadLMM(files(float));
  const [want] = await generateBatch(ref, [row], { maxNewTokens: 8, temperature: 0 });
  ref.dispose();
  // The f16 reference: every matrix rounded to f16.
  const { tensors } = parseSafetensors(lm.get('model.safetensors') as Uint8Array);
  const rounded = new Map([...tensors].map(([k, v]) => {
    if (v.shape.length !== 2 || !/layers/.test(k)) return [k, v];
    const f = rawToFloat32(v);
    return [k, float32ToRaw(f16BytesToFloat32(float32ToHalfBytes(f, 'F16'), f.length), v.shape, 'F32')];
  }));
  const ref16 = await loadLMM(files(new Map([...lm, ['model.safetensors', serializeSafetensors(rounded, { format: 'pt' })]])));
  const [want16] = await generateBatch(ref16, [row], { maxNewTokens: 8, temperature: 0 });
  ref16.dispose();
  assert.ok(await tf.setBackend('webgpu'));
  registerWebGPUKernels();
  try {
    const lmm = await loadLMM(files(quantized));
    const up = lmm.lm.linears().get('model.layers.0.mlp.up_proj')!;
    assert.equal(up.frozen?.dtype, 'int4');
    assert.ok(up.frozen!.byteLength < (up.outFeatures * up.inFeatures * 4) / 6, `${up.frozen!.byteLength} bytes held`);
    const [got] = await generateBatch(lmm, [row], { maxNewTokens: 8, temperature: 0 });
    assert.deepEqual(got.outputIds, want.outputIds);
    t.diagnostic(`q4 on webgpu: ${JSON.stringify(got.text)}; up_proj holds ${up.frozen!.byteLength} bytes (f32: ${up.outFeatures * up.inFeatures * 4})`);
    lmm.dispose();
    const fl = await loadLMM(files(lm), { dtype: 'f16' });
    assert.equal(fl.lm.linears().get('model.layers.1.self_attn.q_proj')!.frozen?.dtype, 'f16');
    const [f16] = await generateBatch(fl, [row], { maxNewTokens: 8, temperature: 0 });
    assert.deepEqual(f16.outputIds, want16.outputIds);
    t.diagnostic(`f16 on webgpu: ${JSON.stringify(f16.text)}`);
    fl.dispose();
  } finally {
    await tf.setBackend('cpu');
  }
});

test('the backward product dy · W through a packed frozen weight equals float32, and GPU dequantize equals dequantizeRows', { timeout: 240_000 }, async (t) => {
  if (skip) return skipMissingTool(t, skip);
  assert.ok(await tf.setBackend('webgpu'));
  registerWebGPUKernels();
  try {
    for (const c of dequantCases().filter((c) => c.M <= 8 && !c.swiglu).slice(0, 6)) {
      const packed = packRandom(c, 5);
      const pt = packedToTensors(packed);
      const W = dequantize(packed);
      const onGpu = dequantizeOnDevice(pt);
      assert.deepEqual(Array.from(await onGpu.data()), Array.from(W), `${c.name}: GPU dequantize`);
      onGpu.dispose();
      disposePacked(pt);
    }
    const c = dequantCases()[3]; // q4, M 8, N 70, K 100, G 64, asym
    const src = { kind: 'nbits' as const, matrix: (await import('../kernels/packed-weight.js')).toNBits(packRandom(c, 9)) };
    const fw = webgpuFrozenWeightPlacer('test.proj', src, 'int4', { gradients: true })!;
    const W = tf.tensor2d(fw.toFloat32(), [c.N, c.K]);
    const x = tf.tensor2d(Float32Array.from({ length: 5 * c.K }, (_, i) => Math.sin(i * 0.7)), [5, c.K]);
    const r = tf.tensor2d(Float32Array.from({ length: 5 * c.N }, (_, i) => Math.cos(i * 1.3)), [5, c.N]);
    const gotGrad = tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(frozenMatMul(xx, fw), r)))(x);
    const wantGrad = tf.matMul(r, W);
    const diff = (await tf.max(tf.abs(tf.sub(gotGrad, wantGrad))).data())[0];
    const scale = (await tf.max(tf.abs(wantGrad)).data())[0];
    assert.ok(diff <= 1e-5 * scale, `d x differs by ${diff} (scale ${scale})`);
    t.diagnostic(`d x through a packed q4 weight: within ${diff.toExponential(1)} of float32 (scale ${scale.toFixed(2)})`);
    fw.dispose();
  } finally {
    await tf.setBackend('cpu');
  }
});
