/** One chat message in the seed's (and OpenAI's) shape. */
export interface ChatMessage {
  role: string;
  content: string;
}

/**
 * What chat encoding needs from a tokenizer. `fromPreTrainedTokenizer` (tokenizer-adapter.ts) wraps a
 * transformers.js tokenizer, so any Hugging Face chat template works.
 */
export interface ChatTokenizer {
  /** Token ids of `text` with no BOS/EOS added (special-token strings in the text map to their ids). */
  encode(text: string): number[];
  decode(ids: number[], skipSpecialTokens?: boolean): string;
  /** Renders messages with the tokenizer's own chat template. */
  render(messages: ChatMessage[], addGenerationPrompt: boolean): string;
  /** Strings that end an assistant turn (eos, `<|im_end|>`, `<|eot_id|>`, …), longest first. */
  readonly endOfTurnTokens: string[];
  /** Ids that stop generation. */
  readonly stopTokenIds: number[];
  readonly padTokenId: number;
  /**
   * Characters of text the longest token can stand for (its vocabulary string's length, added tokens included).
   * A text of `n` characters is at least `n / longestTokenChars` tokens, so a server can refuse a prompt that
   * cannot fit the context without tokenizing it. Unknown when absent.
   */
  readonly longestTokenChars?: number;
}
