import { tf } from '../tf.js';
import type { ChatRow } from '../chat/encode-chat.js';
import type { PreprocessContext } from '../modality/modality.js';
import { RowError } from '../util/row-error.js';
import { buildSpliceLayout } from '../splice/layout.js';
import { generateTokens, type GenerateOptions } from '../lm/generate.js';
import { IncrementalDecoder, StopStringFilter } from '../lm/text-stream.js';
import type { LMM } from './lmm.js';
import type { FeatureBatch } from '../train/feature-cache.js';
import type { BatchFeatures } from './lmm.js';
import { maxOf } from '../util/arrays.js';

export interface LMMGenerateOptions extends Omit<GenerateOptions, 'padTokenId'> {
  /** Stop strings (OpenAI `stop`): generation of a row ends before the first match. */
  stop?: string[];
  /** Fetches items (paths, URLs) for preprocessing. */
  preprocess?: Omit<PreprocessContext, 'rowId'>;
  /** Longest prompt + completion allowed (default: the LM's max_position_embeddings). */
  maxLength?: number;
  /**
   * Encoder features for the batch instead of preprocessing and encoding here: evaluation during training
   * passes its feature cache, so a frozen encoder runs once per eval row, not once per evaluation.
   */
  features?: (batch: FeatureBatch) => Promise<BatchFeatures | (() => BatchFeatures)>;
}

/** One step of a streamed batch generation. */
export interface LMMStreamStep {
  /** New text per request this step ('' when nothing new is complete yet). */
  deltas: string[];
  /** Per request: null while running, then why it ended. */
  finishReasons: (null | 'stop' | 'length')[];
}

export interface LMMGeneration {
  text: string;
  /** Prompt token ids; modality placeholder positions hold negative ids (-(modality index + 1)). */
  promptIds: number[];
  /** Generated token ids, the stop token included when one ended the row. */
  outputIds: number[];
  finishReason: 'stop' | 'length';
  promptTokens: number;
  completionTokens: number;
}

/** Raised when a prompt (with its modality tokens) cannot fit the model; names the request. */
export class PromptTooLongError extends RowError {}

/**
 * Streams completions for a batch of conversations (each with its own modality items). Prompts are encoded
 * with the chat template's generation prompt, modality items are encoded and projected once, and the merged
 * embeddings are left-padded so the batch decodes together with the KV cache.
 */
export async function* streamGenerate(
  lmm: LMM,
  requests: ChatRow[],
  opts: LMMGenerateOptions = {},
): AsyncGenerator<LMMStreamStep, LMMGeneration[]> {
  const encoded = requests.map((r, i) => lmm.encodeRow(r, { mode: 'generate' }, i));
  const maxLength = opts.maxLength ?? lmm.lm.config.maxPositionEmbeddings;
  const maxNew = opts.maxNewTokens ?? 128;
  for (const e of encoded) {
    if (e.inputIds.length + 1 > maxLength) {
      throw new PromptTooLongError(e.id, `prompt is ${e.inputIds.length} tokens; the model allows ${maxLength} in total`);
    }
  }
  const padId = lmm.tokenizer.padTokenId;
  const T = maxOf(encoded.map((e) => e.inputIds.length));
  const rows = encoded.map((e) => {
    const pad = T - e.inputIds.length;
    return {
      inputIds: [...new Array(pad).fill(padId), ...e.inputIds],
      runs: e.runs.map((r) => ({ ...r, start: r.start + pad })),
    };
  });
  const layout = buildSpliceLayout(rows, lmm.tokenWidths, T, padId);
  const ids = encoded.map((e) => e.id);
  const items = lmm.modalities.map((_, m) => encoded.map((e) => e.items[m]));
  const given = opts.features ? await opts.features({ ids, items, layout }) : null;
  if (typeof given === 'function') throw new Error('generation needs computed features, not a trainable-encoder thunk');
  const features = given ?? (await lmm.encode(await lmm.preprocess(items, ids, opts.preprocess), layout, ids));
  const embeds = tf.tidy(() => lmm.embed(layout, lmm.project(features)));
  for (const f of features) f?.dispose();
  const mask = encoded.map((e) => [...new Array(T - e.inputIds.length).fill(0), ...e.inputIds.map(() => 1)]);

  const stopIds = opts.stopTokenIds ?? [...new Set([...lmm.tokenizer.stopTokenIds, ...lmm.lm.config.eosTokenIds])];
  const decoders = encoded.map(() => new IncrementalDecoder((x) => lmm.tokenizer.decode(x, true)));
  const filters = encoded.map(() => new StopStringFilter(opts.stop ?? []));
  const reasons: (null | 'stop' | 'length')[] = encoded.map(() => null);
  const outIds: number[][] = encoded.map(() => []);
  const texts = encoded.map(() => '');
  // A row may not run past the context: cap its new tokens by what is left.
  const budget = Math.max(1, Math.min(maxNew, maxLength - T));
  try {
    const gen = generateTokens(
      lmm.lm,
      { inputsEmbeds: embeds, attentionMask: mask, promptIds: encoded.map((e) => e.inputIds) },
      { ...opts, maxNewTokens: budget, stopTokenIds: stopIds, padTokenId: padId },
    );
    for await (const step of gen) {
      const deltas = step.tokens.map((tok, i) => {
        if (tok === null || reasons[i] !== null) return '';
        outIds[i].push(tok);
        let d = '';
        if (stopIds.includes(tok)) {
          reasons[i] = 'stop';
          d = filters[i].push(decoders[i].flush()) + filters[i].flush();
        } else {
          d = filters[i].push(decoders[i].push(tok));
          if (filters[i].stopped) reasons[i] = 'stop';
          else if (step.finished[i]) {
            reasons[i] = 'length';
            d += filters[i].push(decoders[i].flush()) + filters[i].flush();
          }
        }
        texts[i] += d;
        return d;
      });
      yield { deltas, finishReasons: [...reasons] };
      if (reasons.every((r) => r !== null)) break;
    }
  } finally {
    embeds.dispose();
  }
  return encoded.map((e, i) => ({
    text: texts[i],
    finishReason: reasons[i] ?? 'length',
    promptIds: e.inputIds,
    outputIds: outIds[i],
    promptTokens: e.inputIds.length,
    completionTokens: outIds[i].length,
  }));
}

/** Generates complete answers for a batch of conversations. */
export async function generateBatch(lmm: LMM, requests: ChatRow[], opts: LMMGenerateOptions = {}): Promise<LMMGeneration[]> {
  const it = streamGenerate(lmm, requests, opts);
  for (;;) {
    const r = await it.next();
    if (r.done) return r.value;
  }
}
