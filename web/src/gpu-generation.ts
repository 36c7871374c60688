/**
 * One streamed answer from a model on the WebGPU engine, measured like `answer` (generation.ts): time to first
 * token and decode speed after it. Sampling runs on the GPU.
 */
import { streamGenerateGpu, type GpuLMM } from '../../src/webgpu/gpu-lmm.js';
import type { ChatRow } from '../../src/chat/encode-chat.js';
import type { AnswerSettings, AnswerStats } from './generation.js';

export async function answerGpu(
  lmm: GpuLMM,
  row: ChatRow,
  settings: AnswerSettings,
  onDelta: (text: string, stats: AnswerStats) => void,
  signal?: AbortSignal,
): Promise<AnswerStats> {
  const t0 = performance.now();
  let tFirst = 0;
  const stats: AnswerStats = { ttftMs: NaN, tokens: 0, tokensPerSecond: NaN, totalMs: 0, finishReason: 'length' };
  const fetchItem = async (url: string) => {
    const res = await fetch(url);
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    return new Uint8Array(await res.arrayBuffer());
  };
  const gen = streamGenerateGpu(lmm, row, {
    maxNewTokens: settings.maxNewTokens,
    temperature: settings.temperature,
    topP: settings.topP,
    seed: settings.seed ?? Math.floor(Math.random() * 2 ** 31),
    signal,
    preprocess: { loadBytes: fetchItem },
  });
  for await (const step of gen) {
    const now = performance.now();
    stats.tokens++;
    if (stats.tokens === 1) {
      tFirst = now;
      stats.ttftMs = now - t0;
    } else {
      stats.tokensPerSecond = ((stats.tokens - 1) * 1000) / (now - tFirst);
    }
    stats.totalMs = now - t0;
    if (step.finishReason) stats.finishReason = step.finishReason;
    onDelta(step.delta, stats);
    if (signal?.aborted) {
      stats.finishReason = 'cancelled';
      break;
    }
  }
  if (signal?.aborted) stats.finishReason = 'cancelled';
  stats.totalMs = performance.now() - t0;
  return stats;
}
