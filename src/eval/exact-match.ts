/**
 * Held-out questions answered by the model (greedy decoding, in batches) and compared with the reference answer:
 * the one procedure behind `multi-token eval` and evaluation during training, so both print the same table.
 * A row is a question when its last message is the assistant's reference answer; the prompt is everything
 * before it.
 */
import type { ChatRow } from '../chat/encode-chat.js';
import type { LMM } from '../lmm/lmm.js';
import { generateBatch, type LMMGenerateOptions } from '../lmm/generate.js';
import type { EvalItem } from './accuracy.js';
import { maxOf } from '../util/arrays.js';

/** `multi-token eval`'s default answer cap; also where "short answers" end for evaluation during training. */
export const SHORT_ANSWER_TOKENS = 24;

export interface Question {
  id: string;
  /** Question type for the per-type table ('all' when the dataset names none). */
  type: string;
  prompt: ChatRow;
  expected: string;
}

/** Splits rows into prompt + reference answer; a row whose last message is not the assistant's is an error. */
export function questionsOf(rows: ChatRow[], typeOf: (id: string, row: ChatRow) => string | undefined = () => undefined): Question[] {
  return rows.map((r, i) => {
    const id = String(r.id ?? `#${i}`);
    const last = r.messages.length - 1;
    if (r.messages[last]?.role !== 'assistant') throw new Error(`row ${JSON.stringify(id)}: the last message must be the reference answer`);
    return { id, type: typeOf(id, r) ?? 'all', prompt: { ...r, messages: r.messages.slice(0, last) }, expected: r.messages[last].content };
  });
}

/**
 * Whether exact match means something for these questions: at least 90% of the reference answers fit in
 * `SHORT_ANSWER_TOKENS` tokens (class names, yes/no, counts, short captions — not free-form chat).
 * Also gives the answer cap: the longest short reference plus a margin for different tokenisations.
 */
export function shortAnswers(lmm: LMM, qs: Question[]): { short: boolean; long: number; maxNewTokens: number } {
  const lengths = qs.map((q) => lmm.tokenizer.encode(q.expected).length);
  const long = lengths.filter((n) => n > SHORT_ANSWER_TOKENS).length;
  const longest = Math.max(0, maxOf(lengths.filter((n) => n <= SHORT_ANSWER_TOKENS)));
  return { short: qs.length > 0 && long <= 0.1 * qs.length, long, maxNewTokens: Math.min(SHORT_ANSWER_TOKENS, longest + 8) };
}

export interface AnswerOptions {
  batchSize: number;
  maxNewTokens: number;
  preprocess?: LMMGenerateOptions['preprocess'];
  features?: LMMGenerateOptions['features'];
  onProgress?(done: number, total: number): void;
}

/** Answers every question (greedy) and pairs each answer with its reference. */
export async function answerQuestions(lmm: LMM, qs: Question[], o: AnswerOptions): Promise<EvalItem[]> {
  const items: EvalItem[] = [];
  const size = Math.max(1, o.batchSize);
  for (let i = 0; i < qs.length; i += size) {
    const chunk = qs.slice(i, i + size);
    const outs = await generateBatch(
      lmm,
      chunk.map((q) => q.prompt),
      { maxNewTokens: o.maxNewTokens, preprocess: o.preprocess, features: o.features },
    );
    chunk.forEach((q, j) => items.push({ id: q.id, type: q.type, expected: q.expected, got: outs[j].text }));
    o.onProgress?.(Math.min(i + size, qs.length), qs.length);
  }
  return items;
}
