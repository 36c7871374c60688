/**
 * Choosing the next token from one row of logits, on the CPU. Logits come back from the device once per step
 * (`[B, V]`), which costs little next to the forward pass and keeps sampling exact and reproducible across
 * backends (the same seed gives the same text on wasm and WebGPU whenever the logits agree).
 */
import type { Rng } from '../util/rng.js';

export interface SamplingOptions {
  /** 0 (or undefined) = greedy. */
  temperature?: number;
  /** Keep only the k most likely tokens (0 = off). */
  topK?: number;
  /** Nucleus sampling: smallest set of tokens whose probability reaches p (1 = off). */
  topP?: number;
  /** CTRL-style penalty on tokens already present (1 = off), as Hugging Face applies it. */
  repetitionPenalty?: number;
}

/** Applies the repetition penalty in place: positive logits are divided, negative multiplied. */
export function applyRepetitionPenalty(logits: Float32Array, previous: Iterable<number>, penalty: number): void {
  if (penalty === 1) return;
  for (const id of new Set(previous)) {
    if (id < 0 || id >= logits.length) continue;
    logits[id] = logits[id] > 0 ? logits[id] / penalty : logits[id] * penalty;
  }
}

function argmax(a: Float32Array): number {
  let best = 0;
  for (let i = 1; i < a.length; i++) if (a[i] > a[best]) best = i;
  return best;
}

/** Picks the next token id from one row of logits (modified in place). */
export function sampleToken(logits: Float32Array, opts: SamplingOptions, rng: Rng, previous: number[] = []): number {
  applyRepetitionPenalty(logits, previous, opts.repetitionPenalty ?? 1);
  const temperature = opts.temperature ?? 0;
  if (!(temperature > 0)) return argmax(logits);
  // Candidates sorted by logit, cut by top-k, then softmax with temperature, then cut by top-p.
  let idx = Array.from(logits.keys()).sort((a, b) => logits[b] - logits[a] || a - b);
  const topK = opts.topK ?? 0;
  if (topK > 0 && topK < idx.length) idx = idx.slice(0, topK);
  const max = logits[idx[0]];
  const probs = idx.map((i) => Math.exp((logits[i] - max) / temperature));
  let total = probs.reduce((s, p) => s + p, 0);
  const topP = opts.topP ?? 1;
  if (topP < 1) {
    let acc = 0;
    let keep = probs.length;
    for (let i = 0; i < probs.length; i++) {
      acc += probs[i] / total;
      if (acc >= topP) {
        keep = i + 1;
        break;
      }
    }
    idx = idx.slice(0, keep);
    probs.length = keep;
    total = probs.reduce((s, p) => s + p, 0);
  }
  let r = rng.next() * total;
  for (let i = 0; i < idx.length; i++) {
    r -= probs[i];
    if (r <= 0) return idx[i];
  }
  return idx[idx.length - 1];
}
