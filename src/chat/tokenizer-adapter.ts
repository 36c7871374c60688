import type { PreTrainedTokenizer } from '@huggingface/transformers';
import { decodeIds, encodeText, renderChat, specialTokenIds, EXTRA_END_TOKENS } from '../io/tokenizer.js';
import type { ChatTokenizer } from './chat-tokenizer.js';

/**
 * Wraps a transformers.js tokenizer (any Hugging Face tokenizer.json + chat template) as a `ChatTokenizer`.
 * End-of-turn strings are the tokenizer's eos plus the common end-of-turn specials it actually has.
 */
export function fromPreTrainedTokenizer(tok: PreTrainedTokenizer): ChatTokenizer {
  const special = specialTokenIds(tok);
  const specialSet = new Set(tok.all_special_ids);
  const ends = new Set<string>();
  if (typeof tok.eos_token === 'string' && tok.eos_token) ends.add(tok.eos_token);
  for (const t of EXTRA_END_TOKENS) {
    const id = tok.convert_tokens_to_ids(t);
    if (typeof id === 'number' && specialSet.has(id)) ends.add(t);
  }
  let longest = 1;
  // Byte-level BPE stores one character per byte (≥ the UTF-16 length), SentencePiece one per character, byte
  // fallbacks as `<0x41>`: each key is at least as long as the text its token covers.
  for (const token of tok.get_vocab().keys()) if (token.length > longest) longest = token.length;
  return {
    longestTokenChars: longest,
    encode: (text) => encodeText(tok, text, false),
    decode: (ids, skip = true) => decodeIds(tok, ids, skip),
    render: (messages, addGenerationPrompt) => renderChat(tok, messages, { addGenerationPrompt }),
    endOfTurnTokens: [...ends].sort((a, b) => b.length - a.length),
    stopTokenIds: special.eos,
    padTokenId: special.pad ?? special.eos[0] ?? 0,
  };
}
