import { tf, type Tensor } from '../tf.js';
import type { ForwardOptions, LlamaForCausalLM } from './llama.js';
import { sampleToken, type SamplingOptions } from './sampling.js';
import { Rng } from '../util/rng.js';
import { maxOf } from '../util/arrays.js';

export interface GenerateOptions extends SamplingOptions {
  /** Default 128. */
  maxNewTokens?: number;
  /** A row stops when it produces one of these. Default: the config's eos ids. */
  stopTokenIds?: number[];
  /** Seed of the sampler (ignored when greedy). Default 0. */
  seed?: number;
  /** Fed for rows that have finished while others continue. Default: config pad, else eos, else 0. */
  padTokenId?: number;
  /** Stops generation early (a disconnected client, a cancel button). */
  signal?: AbortSignal;
}

/**
 * What the first forward pass consumes. Either token ids (ragged rows are left-padded here) or ready input
 * embeddings `[B, T, D]` with their (left-padded) attention mask: the multimodal path.
 */
export interface Prefill {
  inputIds?: number[][];
  inputsEmbeds?: Tensor;
  attentionMask?: number[][];
  /** Prompt token ids per row, for the repetition penalty (defaults to inputIds). */
  promptIds?: number[][];
}

export interface GenerationStep {
  step: number;
  /** The token each row produced this step; null for rows that had already finished. */
  tokens: (number | null)[];
  /** Whether each row is finished after this step (stop token or length). */
  finished: boolean[];
}

/** Logits of the last position, `[B, 1, V]`; the hidden states are freed. */
function lastLogits(lm: LlamaForCausalLM, opts: Omit<ForwardOptions, 'logits'>): Tensor {
  const { logits, hidden } = lm.forward({ ...opts, logits: 'last' });
  hidden.dispose();
  return logits!;
}

/** Left-pads ragged rows to one length, returning ids and the 0/1 attention mask. */
export function leftPad(rows: number[][], padId: number): { ids: number[][]; mask: number[][] } {
  const len = maxOf(rows.map((r) => r.length));
  return {
    ids: rows.map((r) => [...new Array(len - r.length).fill(padId), ...r]),
    mask: rows.map((r) => [...new Array(len - r.length).fill(0), ...new Array(r.length).fill(1)]),
  };
}

/**
 * Autoregressive decoding with a KV cache: one prefill pass over the prompt, then one single-token pass per
 * step, attending over the cache. Rows of a batch finish independently. Yields after every step, so callers
 * can stream tokens and a server stays responsive.
 */
export async function* generateTokens(
  lm: LlamaForCausalLM,
  prefill: Prefill,
  opts: GenerateOptions = {},
): AsyncGenerator<GenerationStep> {
  const cfg = lm.config;
  const stop = new Set(opts.stopTokenIds ?? cfg.eosTokenIds);
  const padId = opts.padTokenId ?? cfg.padTokenId ?? cfg.eosTokenIds[0] ?? 0;
  const maxNew = opts.maxNewTokens ?? 128;
  const rng = new Rng(opts.seed ?? 0);

  let inputIds: Tensor | undefined;
  let mask: number[][];
  let history: number[][];
  if (prefill.inputIds) {
    if (prefill.inputIds.length === 0 || prefill.inputIds.some((r) => r.length === 0)) {
      throw new Error('generate: every prompt needs at least one token');
    }
    const padded = prefill.attentionMask ? { ids: prefill.inputIds, mask: prefill.attentionMask } : leftPad(prefill.inputIds, padId);
    inputIds = tf.tensor2d(padded.ids, undefined, 'int32');
    mask = padded.mask;
    history = (prefill.promptIds ?? prefill.inputIds).map((r) => r.filter((id) => id >= 0));
  } else if (prefill.inputsEmbeds) {
    const [b, t] = prefill.inputsEmbeds.shape;
    mask = prefill.attentionMask ?? Array.from({ length: b }, () => new Array(t).fill(1));
    history = prefill.promptIds?.map((r) => r.filter((id) => id >= 0)) ?? Array.from({ length: b }, () => []);
  } else {
    throw new Error('generate: prefill needs inputIds or inputsEmbeds');
  }
  const batch = mask.length;
  const finished = new Array<boolean>(batch).fill(false);
  const cache = lm.newCache(batch);
  try {
    let logits = lastLogits(lm, { inputIds, inputsEmbeds: inputIds ? undefined : prefill.inputsEmbeds, attentionMask: mask, cache });
    inputIds?.dispose();
    for (let step = 0; step < maxNew; step++) {
      if (opts.signal?.aborted) {
        logits.dispose();
        return;
      }
      const rows = (await logits.data()) as Float32Array;
      logits.dispose();
      const vocab = rows.length / batch;
      const tokens: (number | null)[] = [];
      for (let b = 0; b < batch; b++) {
        if (finished[b]) {
          tokens.push(null);
          continue;
        }
        const row = rows.slice(b * vocab, (b + 1) * vocab);
        const tok = sampleToken(row, opts, rng, history[b]);
        history[b].push(tok);
        tokens.push(tok);
        if (stop.has(tok) || step === maxNew - 1) finished[b] = true;
      }
      yield { step, tokens, finished: [...finished] };
      if (finished.every(Boolean) || step === maxNew - 1) return;
      const next = tf.tensor2d(tokens.map((t) => [t ?? padId]), [batch, 1], 'int32');
      logits = lastLogits(lm, { inputIds: next, attentionMask: mask.map(() => [1]), cache });
      next.dispose();
    }
  } finally {
    cache.dispose();
  }
}

/** Runs `generateTokens` to the end and returns each row's new tokens (stop token included if produced). */
export async function generate(lm: LlamaForCausalLM, prefill: Prefill, opts: GenerateOptions = {}): Promise<number[][]> {
  let out: number[][] | null = null;
  for await (const s of generateTokens(lm, prefill, opts)) {
    out ??= s.tokens.map(() => []);
    s.tokens.forEach((t, i) => t !== null && out![i].push(t));
  }
  return out ?? [];
}

/**
 * Greedy decoding without a cache: every step re-runs the whole sequence. Only for tests and the KV-cache
 * benchmark, as the reference the cached path must match.
 */
export async function generateNoCache(
  lm: LlamaForCausalLM,
  prompt: number[],
  maxNewTokens: number,
  stopTokenIds: number[] = lm.config.eosTokenIds,
): Promise<number[]> {
  const ids = [...prompt];
  const out: number[] = [];
  for (let i = 0; i < maxNewTokens; i++) {
    const x = tf.tensor2d([ids], undefined, 'int32');
    const logits = lastLogits(lm, { inputIds: x });
    const row = (await logits.data()) as Float32Array;
    x.dispose();
    logits.dispose();
    const tok = sampleToken(row, {}, new Rng(0));
    ids.push(tok);
    out.push(tok);
    if (stopTokenIds.includes(tok)) break;
  }
  return out;
}
