/**
 * One streamed answer from a model on the WebGPU engine, measured like `answer` (generation.ts): time to first
 * token and decode speed after it. Sampling runs on the GPU.
 */
import { streamGenerateGpu, type GpuLMM } from '../../src/webgpu/gpu-lmm.js';
import type { ChatRow } from '../../src/chat/encode-chat.js';
import { generationOptions, measureAnswer, type AnswerSettings, type AnswerStats } from './generation.js';

export async function answerGpu(
  lmm: GpuLMM,
  row: ChatRow,
  settings: AnswerSettings,
  onDelta: (text: string, stats: AnswerStats) => void,
  signal?: AbortSignal,
): Promise<AnswerStats> {
  const t0 = performance.now();
  const steps = streamGenerateGpu(lmm, row, generationOptions(settings, signal));
  return measureAnswer(t0, steps, (step) => ({ delta: step.delta, finishReason: step.finishReason }), onDelta, signal);
}
