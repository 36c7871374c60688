/**
 * A multimodal checkpoint with its LM quantized (q4) on the WebGPU engine (`loadGpuLMM` + `streamGenerateGpu`,
 * Node on Dawn + SwiftShader) answers exactly as the library's tfjs model does on the same, dequantized weights
 * (`loadLMM` + `generateBatch`, cpu backend): the vector modality's projected rows are spliced in by the
 * engine's embedding kernel.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { startNodeWebGPU } from './helpers/node-webgpu.js';
import { skipMissingTool } from './helpers/missing-tool.js';
import { tf } from '../src/tf.js';
import { MemorySource } from '../src/io/source.js';
import { loadLMM } from '../src/lmm/load.js';
import { generateBatch } from '../src/lmm/generate.js';
import { makeTinyMultimodalFiles } from '../src/tiny/tiny-multimodal.js';
import { loadGpuLMM, streamGenerateGpu } from '../src/webgpu/gpu-lmm.js';
import { ModelFileError } from '../src/io/source.js';
import { quantizeFiles } from './helpers/quantize-in-memory.js';

let skip: string | false = false;
before(async () => {
  await tf.setBackend('cpu');
  skip = await startNodeWebGPU();
});

const row = {
  messages: [{ role: 'user' as const, content: 'Which is larger, <vector> or <vector>?' }],
  vectors: [[0.5, -0.2, 0.9, 0.1, -0.7, 0.3, 0.2, -0.4], [0.1, 0.8, -0.3, -0.6, 0.4, 0.9, -0.1, 0.2]],
};

test('a q4 LMM on the WebGPU engine answers like tfjs on the dequantized weights (vector rows spliced on the GPU)', { timeout: 240_000 }, async (t) => {
  if (skip) return skipMissingTool(t, skip);
  const files = await makeTinyMultimodalFiles({ arch: 'llama', modalities: ['vector'], hiddenSize: 64, numHiddenLayers: 2, seed: 3 });
  const { quantized, float } = quantizeFiles(files, { bits: 4, groupSize: 16, sym: false });
  const gpu = await loadGpuLMM(new MemorySource(Object.fromEntries(quantized)), { maxSeq: 128 });
  const ref = await loadLMM(new MemorySource(Object.fromEntries(float)));
  try {
    const tokens: number[] = [];
    let text = '';
    for await (const s of streamGenerateGpu(gpu, row, { maxNewTokens: 12 })) {
      tokens.push(s.token);
      text += s.delta;
    }
    const [want] = await generateBatch(ref, [row], { maxNewTokens: 12 });
    t.diagnostic(`GPU: ${JSON.stringify(text)} (${tokens.join(' ')}); GPU memory held ${gpu.gpuBytes} bytes`);
    assert.deepEqual(tokens, want.outputIds);
    assert.equal(text, want.text);
  } finally {
    gpu.dispose();
    ref.dispose();
  }
});

test('loadGpuLMM refuses an unmerged LoRA adapter, naming the folder', async () => {
  const files = new Map<string, Uint8Array | string>([['config.json', '{"model_type":"llama"}'], ['adapter_config.json', '{}']]);
  await assert.rejects(loadGpuLMM(new MemorySource(Object.fromEntries(files), "memory:lora")), (e: Error) => e instanceof ModelFileError && /memory:lora holds a LoRA adapter: merge it/.test(e.message));
});
