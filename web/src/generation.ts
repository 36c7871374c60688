/**
 * Runs one streamed answer and measures it the way people feel it: time to first token (prompt encoding,
 * modality encoders and prefill included) and decode speed after that.
 */
import { streamGenerate } from '../../src/lmm/generate.js';
import type { LMM } from '../../src/lmm/lmm.js';
import type { ChatRow } from '../../src/chat/encode-chat.js';

/** Sampling settings from the page. */
export interface AnswerSettings {
  maxNewTokens: number;
  /** 0 = greedy. */
  temperature: number;
  topP: number;
  /** Sampler seed; random when unset (a fixed one makes answers reproducible, for tests). */
  seed?: number;
}

/** Speed of one answer. */
export interface AnswerStats {
  /** Milliseconds from the request to the first generated token. */
  ttftMs: number;
  /** Tokens generated. */
  tokens: number;
  /** Tokens per second after the first one (decode speed; NaN with fewer than two tokens). */
  tokensPerSecond: number;
  totalMs: number;
  finishReason: 'stop' | 'length' | 'cancelled';
}

/** Fetches an item the row names by URL (the page's pictures are URLs or blob: URLs). */
async function fetchItem(url: string): Promise<Uint8Array> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  return new Uint8Array(await res.arrayBuffer());
}

/** The generation options both engines take from the page's settings. */
export function generationOptions(settings: AnswerSettings, signal?: AbortSignal) {
  return {
    maxNewTokens: settings.maxNewTokens,
    temperature: settings.temperature,
    topP: settings.topP,
    seed: settings.seed ?? Math.floor(Math.random() * 2 ** 31),
    signal,
    preprocess: { loadBytes: fetchItem },
  };
}

/**
 * Consumes one answer's stream of steps (either engine's; `read` gives a step's new text and finish reason),
 * passing each piece to `onDelta` with the stats so far; `t0` is when the request was made.
 */
export async function measureAnswer<T>(
  t0: number,
  steps: AsyncIterable<T>,
  read: (step: T) => { delta: string; finishReason?: AnswerStats['finishReason'] | null },
  onDelta: (text: string, stats: AnswerStats) => void,
  signal?: AbortSignal,
): Promise<AnswerStats> {
  let tFirst = 0;
  const stats: AnswerStats = { ttftMs: NaN, tokens: 0, tokensPerSecond: NaN, totalMs: 0, finishReason: 'length' };
  for await (const step of steps) {
    const now = performance.now();
    stats.tokens++;
    if (stats.tokens === 1) {
      tFirst = now;
      stats.ttftMs = now - t0;
    } else {
      stats.tokensPerSecond = ((stats.tokens - 1) * 1000) / (now - tFirst);
    }
    stats.totalMs = now - t0;
    const { delta, finishReason } = read(step);
    if (finishReason) stats.finishReason = finishReason;
    onDelta(delta, stats);
    if (signal?.aborted) {
      stats.finishReason = 'cancelled';
      break; // leaving the loop runs the generator's cleanup
    }
  }
  if (signal?.aborted) stats.finishReason = 'cancelled';
  stats.totalMs = performance.now() - t0;
  return stats;
}

/**
 * Streams the assistant's reply to `row`, calling `onDelta` with each new piece of text. Aborting `signal`
 * ends it early (the library frees its tensors); the stats then say `cancelled`.
 */
export async function answer(
  lmm: LMM,
  row: ChatRow,
  settings: AnswerSettings,
  onDelta: (text: string, stats: AnswerStats) => void,
  signal?: AbortSignal,
): Promise<AnswerStats> {
  const t0 = performance.now();
  const steps = streamGenerate(lmm, [row], generationOptions(settings, signal));
  return measureAnswer(t0, steps, (step) => ({ delta: step.deltas[0] ?? '', finishReason: step.finishReasons[0] }), onDelta, signal);
}
