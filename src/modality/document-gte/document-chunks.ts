/**
 * Splitting a long document into encoder-sized chunks. The encoder sees at most `maxLength` tokens (512 for
 * GTE) including its special tokens (`[CLS]` … `[SEP]`), so each chunk holds `maxLength − specials` document
 * tokens. Splitting happens on token ids, not text, so chunk boundaries are exact and no text is re-tokenized
 * differently. (The seed truncates at 512 instead, and its dataset script splits at sentences; see
 * `document-gte.ts` for how chunks become one embedding.)
 */
import type { PreTrainedTokenizer } from '@huggingface/transformers';

/** The special tokens the tokenizer wraps a single text in. */
export interface SpecialFrame {
  prefix: number[];
  suffix: number[];
}

/**
 * Finds the tokenizer's single-sequence framing by encoding a probe with and without special tokens: for BERT
 * `[CLS]` before and `[SEP]` after. Works for any template that wraps the text without altering it.
 */
export function specialFrame(tok: PreTrainedTokenizer): SpecialFrame {
  const bare = tok.encode('a', { add_special_tokens: false });
  const framed = tok.encode('a', { add_special_tokens: true });
  for (let i = 0; i + bare.length <= framed.length; i++) {
    if (bare.every((id, j) => framed[i + j] === id)) {
      return { prefix: framed.slice(0, i), suffix: framed.slice(i + bare.length) };
    }
  }
  throw new Error('the tokenizer changes the text when it adds special tokens; cannot chunk documents with it');
}

/** Python's "no limit" `model_max_length` (1e30) and anything like it is not a real context length. */
const UNSET_MAX_LENGTH = 1e9;

/**
 * The encoder's context in tokens: the tokenizer's `model_max_length` when it sets a real one, capped by the
 * model's `max_position_embeddings` (a tokenizer may claim more than the position table holds).
 */
export function encoderMaxLength(tok: PreTrainedTokenizer, maxPositionEmbeddings: number): number {
  const m = (tok as unknown as { model_max_length?: unknown }).model_max_length;
  const fromTokenizer = typeof m === 'number' && Number.isFinite(m) && m > 0 && m < UNSET_MAX_LENGTH ? m : Infinity;
  return Math.min(fromTokenizer, maxPositionEmbeddings);
}

/**
 * Cuts `ids` (a document's tokens without specials) into chunks of at most `maxLength` tokens, framing included:
 * a document of exactly `maxLength − specials` tokens is one chunk, one token more makes two. An empty document
 * gives no chunks (callers report it).
 */
export function chunkTokenIds(ids: readonly number[], maxLength: number, frame: SpecialFrame): number[][] {
  const room = maxLength - frame.prefix.length - frame.suffix.length;
  if (room < 1) throw new Error(`maxLength ${maxLength} leaves no room for text between the special tokens`);
  const chunks: number[][] = [];
  for (let start = 0; start < ids.length; start += room) {
    chunks.push([...frame.prefix, ...ids.slice(start, start + room), ...frame.suffix]);
  }
  return chunks;
}
