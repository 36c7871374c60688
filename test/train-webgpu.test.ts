/**
 * The trainer on tfjs's webgpu backend in Node (Dawn with SwiftShader) against the cpu backend: the same loss
 * and gradient-norm trajectory to 1e-3 for projector-only training and for LoRA on every linear layer (64
 * trainable tensors, far past the 7 inputs a WebGPU shader may read by default), with clipping active, and a
 * flat tensor count from step to step. Without a WebGPU adapter the tests skip and say why
 * (MULTI_TOKEN_REQUIRE_ALL=1, set by CI, turns that into a failure).
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../src/tf.js';
import { selectNodeBackend } from '../node/backend.js';
import { startNodeWebGPU } from './helpers/node-webgpu.js';
import { MemorySource } from '../src/io/source.js';
import { loadLMM } from '../src/lmm/load.js';
import { applyLora, ALL_LINEAR_TARGETS } from '../src/lora/lora.js';
import { Rng } from '../src/util/rng.js';
import { Trainer, NonFiniteLossError, type LogEntry, type StepStats } from '../src/train/trainer.js';
import { addNChunked, maxKernelInputs } from '../src/train/device-limits.js';
import { makeTinyMultimodalFiles } from '../src/tiny/tiny-multimodal.js';
import { vectorRows } from './helpers/tiny-vector.js';
import { skipMissingTool } from './helpers/missing-tool.js';
import '../node/index.js';

/** SwiftShader's cost is per dispatch, not per FLOP: few layers, few steps. LoRA needs 4 layers for 64 tensors. */
const models = {
  2: await makeTinyMultimodalFiles({ arch: 'qwen2', modalities: ['vector'], hiddenSize: 32, numHiddenLayers: 2, seed: 7 }),
  4: await makeTinyMultimodalFiles({ arch: 'qwen2', modalities: ['vector'], hiddenSize: 32, numHiddenLayers: 4, seed: 7 }),
};
const rows = vectorRows(12, 3);

let skip: string | false = false;
before(async () => {
  skip = await startNodeWebGPU();
});

interface Run {
  log: LogEntry[];
  /** Every step's loss and gradient norm, as read. */
  steps: StepStats[];
  /** How many reads the trainer made. */
  reads: number;
  /** tf.memory().numTensors after each logging step. */
  tensors: number[];
  trainable: number;
}

interface Shape {
  layers: 2 | 4;
  steps: number;
  batchSize: number;
  accumulation: number;
  loggingSteps: number;
}

async function train(backend: 'cpu' | 'webgpu', mode: 'projector' | 'lora', shape: Shape, rowsToUse = rows, inspect?: (before: Map<string, Float32Array>, lmm: Awaited<ReturnType<typeof loadLMM>>) => Promise<void>): Promise<Run> {
  await selectNodeBackend({ force: backend, quiet: true });
  const lmm = await loadLMM(new MemorySource(models[shape.layers]));
  if (mode === 'lora') lmm.lora = applyLora(lmm.lm, { r: 4, loraAlpha: 8, loraDropout: 0, targetModules: ALL_LINEAR_TARGETS }, new Rng(2));
  const trainable = new Map([...lmm.projectorParameters(), ...lmm.loraParameters()]);
  const encoded = rowsToUse.map((r, i) => lmm.encodeRow(r as never, { mode: 'train' }, i));
  const run: Run = { log: [], steps: [], reads: 0, tensors: [], trainable: trainable.size };
  const before = new Map<string, Float32Array>();
  for (const [k, v] of trainable) before.set(k, (await v.data()) as Float32Array);
  const trainer = new Trainer(lmm, encoded, trainable, {
    numTrainEpochs: 1, maxSteps: shape.steps, batchSize: shape.batchSize, gradientAccumulationSteps: shape.accumulation,
    learningRate: 2e-2, weightDecay: 0.01, warmupRatio: 0, scheduler: 'linear', maxGradNorm: 0.5, seed: 4,
    modelMaxLength: 64, loggingSteps: shape.loggingSteps, saveSteps: 0,
  }, {
    onStepsRead: (s) => {
      run.steps.push(...s);
      run.reads++;
    },
    onLog: (e) => {
      run.log.push(e);
      run.tensors.push(tf.memory().numTensors);
    },
  });
  try {
    await trainer.train();
  } finally {
    await inspect?.(before, lmm);
    trainer.dispose();
    lmm.dispose();
  }
  return run;
}

function assertSameTrajectory(gpu: Run, cpu: Run): void {
  assert.equal(gpu.steps.length, cpu.steps.length);
  gpu.steps.forEach((g, i) => {
    const c = cpu.steps[i];
    assert.equal(g.step, c.step);
    assert.ok(Math.abs(g.loss - c.loss) <= 1e-3, `step ${g.step}: loss webgpu ${g.loss} vs cpu ${c.loss}`);
    assert.ok(Math.abs(g.gradNorm - c.gradNorm) <= 1e-3 * Math.max(1, c.gradNorm), `step ${g.step}: grad norm webgpu ${g.gradNorm} vs cpu ${c.gradNorm}`);
  });
  gpu.log.forEach((e, i) => assert.ok(Math.abs(e.loss - cpu.log[i].loss) <= 1e-3, `log ${e.step}: ${e.loss} vs ${cpu.log[i].loss}`));
  assert.ok(cpu.steps.some((s) => s.gradNorm > 0.5), 'clipping must act in this run (some gradient norm above 0.5)');
  const l = cpu.steps.map((s) => s.loss);
  assert.ok(l[l.length - 1] < l[0], `loss should fall: ${l.map((x) => x.toFixed(3))}`);
}

const show = (r: Run) => r.steps.map((s) => `${s.loss.toFixed(4)}/${s.gradNorm.toFixed(2)}`).join(' ');

test('addNChunked sums 60 tensors within the WebGPU storage-buffer limit', async (t) => {
  if (skip) return skipMissingTool(t, skip);
  await selectNodeBackend({ force: 'webgpu', quiet: true });
  const limit = maxKernelInputs();
  assert.ok(Number.isFinite(limit) && limit >= 7, `webgpu input limit ${limit}`);
  const xs = Array.from({ length: 60 }, (_, i) => tf.fill([3], i + 1));
  const sum = addNChunked(xs);
  assert.deepEqual(Array.from(await sum.data()), [1830, 1830, 1830]);
  tf.dispose([...xs, sum]);
  t.diagnostic(`webgpu device: ${limit + 1} storage buffers per shader stage`);
});

test('projector-only on webgpu follows the cpu trajectory (3 steps read back at once)', { timeout: 900_000 }, async (t) => {
  if (skip) return skipMissingTool(t, skip);
  // Two micro-batches per step; three steps queued and read back together.
  const shape = { layers: 2, steps: 3, batchSize: 2, accumulation: 2, loggingSteps: 3 } as const;
  const cpu = await train('cpu', 'projector', shape);
  const gpu = await train('webgpu', 'projector', shape);
  assert.ok(gpu.trainable > 7, `${gpu.trainable} trainable tensors`);
  assertSameTrajectory(gpu, cpu);
  assert.equal(gpu.reads, 1, 'the three steps were read back with one download');
  t.diagnostic(`loss/grad-norm per step: cpu ${show(cpu)}; webgpu ${show(gpu)}`);
});

test('LoRA (64 tensors, clipping on) on webgpu follows the cpu trajectory; numTensors flat per step', { timeout: 900_000 }, async (t) => {
  if (skip) return skipMissingTool(t, skip);
  const shape = { layers: 4, steps: 3, batchSize: 4, accumulation: 1, loggingSteps: 1 } as const;
  const cpu = await train('cpu', 'lora', shape);
  const gpu = await train('webgpu', 'lora', shape);
  assert.ok(gpu.trainable >= 60, `${gpu.trainable} trainable tensors`);
  assertSameTrajectory(gpu, cpu);
  // Every step ends with the same number of live tensors (the optimizer's moments exist from the first one).
  assert.equal(new Set(gpu.tensors).size, 1, `numTensors after each step: ${gpu.tensors}`);
  t.diagnostic(`loss/grad-norm per step: cpu ${show(cpu)}; webgpu ${show(gpu)}`);
});

for (const backend of ['cpu', 'webgpu'] as const) {
  test(`a non-finite step on ${backend} is caught at the next read and changes no weight`, { timeout: 600_000 }, async (t) => {
    if (backend === 'webgpu' && skip) return skipMissingTool(t, skip);
    const bad = vectorRows(4, 3);
    for (const r of bad) r.vectors = [Array(8).fill(3e38), Array(8).fill(-3e38)];
    let compared = 0;
    const unchanged = async (before: Map<string, Float32Array>, lmm: Awaited<ReturnType<typeof loadLMM>>) => {
      for (const [k, v] of lmm.projectorParameters()) {
        assert.deepEqual(await v.data(), before.get(k), `${k} changed`);
        compared++;
      }
    };
    // Two steps run before the first read: the bad first step must keep the second one from updating too.
    await assert.rejects(train(backend, 'projector', { layers: 2, steps: 2, batchSize: 4, accumulation: 1, loggingSteps: 2 }, bad, unchanged), (e: Error) => {
      assert.ok(e instanceof NonFiniteLossError, String(e));
      assert.match(e.message, /at step 1; stopping without updating/);
      return true;
    });
    assert.equal(compared, 8);
  });
}
