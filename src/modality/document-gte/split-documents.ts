/**
 * The seed's `split_text_into_documents` (document_gte.py): cut a long text into documents of at most 512 GTE
 * tokens at sentence boundaries, so each fits the encoder's window; a row then lists the pieces as its
 * `documents` and writes one `<document>` per piece. Sentences come from `Intl.Segmenter` (the platform's
 * Unicode sentence breaker, in Node and browsers) where the seed uses nltk's `sent_tokenize`; token counts come
 * from the encoder's own tokenizer, as in the seed.
 *
 * One difference, on purpose: the seed starts a new document before any sentence that would overflow, so a first
 * sentence longer than the window leaves an empty document in front; here no document is ever empty. A single
 * sentence longer than the window stays one (too long) document, as in the seed; `document_gte` then encodes it
 * in chunks.
 */
import type { PreTrainedTokenizer } from '@huggingface/transformers';
import { decodeIds, encodeText } from '../../io/tokenizer.js';

/** The seed's `GTE_CONTEXT_WINDOW`. */
export const GTE_CONTEXT_WINDOW = 512;

/** Sentences of `text` (Unicode sentence boundaries), whitespace trimmed, empty ones dropped. */
export function splitSentences(text: string, locale = 'en'): string[] {
  const seg = new Intl.Segmenter(locale, { granularity: 'sentence' });
  return [...seg.segment(text)].map((s) => s.segment.trim()).filter(Boolean);
}

/** Splits `text` into documents of at most `maxTokens` tokens (of `tokenizer`, no special tokens) at sentence ends. */
export function splitTextIntoDocuments(text: string, tokenizer: PreTrainedTokenizer, opts: { maxTokens?: number; locale?: string } = {}): string[] {
  const max = opts.maxTokens ?? GTE_CONTEXT_WINDOW;
  const docs: number[][] = [];
  let current: number[] = [];
  for (const sentence of splitSentences(text, opts.locale)) {
    const ids = encodeText(tokenizer, sentence, false);
    if (current.length > 0 && current.length + ids.length > max) {
      docs.push(current);
      current = [];
    }
    current.push(...ids);
  }
  if (current.length) docs.push(current);
  return docs.map((ids) => decodeIds(tokenizer, ids, true));
}
