/**
 * A tiny but real BERT WordPiece tokenizer (`tokenizer.json` + `tokenizer_config.json`), as `BertTokenizerFast`
 * saves them for GTE/BERT checkpoints: BertNormalizer (lowercase), BertPreTokenizer, WordPiece with `##`
 * continuations, `[CLS] … [SEP]` post-processing. transformers.js loads it as `BertTokenizer`.
 *
 * The vocabulary is the five specials, every single character of a small alphabet and its `##` form (so any
 * ASCII text tokenizes without `[UNK]`), then the most frequent words of the built-in corpus — each of those is
 * one token, which makes token counts in tests easy to reason about (`"red red red"` is 3 tokens + 2 specials).
 */
import { TINY_CORPUS } from './corpus.js';

/** Options of {@link makeWordPieceTokenizer}. */
export interface WordPieceOptions {
  /** Vocabulary size cap (specials and characters always fit). Default 400. */
  vocabSize?: number;
  /** `model_max_length` written to tokenizer_config.json (the encoder's context). Default 512. */
  modelMaxLength?: number;
  /** Word source. Default the built-in corpus. */
  corpus?: readonly string[];
}

/** BERT's special tokens, in the order they get ids 0..4 here. */
export const BERT_SPECIALS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'] as const;

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789.,;:!?\'"()-/&%$#@*+=<>[]_';

/** The vocabulary: specials, characters, `##` characters, then corpus words by frequency (ties by spelling). */
export function wordPieceVocab(o: WordPieceOptions = {}): string[] {
  const vocab: string[] = [...BERT_SPECIALS];
  for (const c of ALPHABET) vocab.push(c);
  for (const c of ALPHABET) vocab.push(`##${c}`);
  const counts = new Map<string, number>();
  for (const text of o.corpus ?? TINY_CORPUS) {
    for (const w of text.toLowerCase().match(/[a-z0-9]+/g) ?? []) {
      if (w.length > 1) counts.set(w, (counts.get(w) ?? 0) + 1);
    }
  }
  const words = [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([w]) => w);
  const limit = Math.max(o.vocabSize ?? 400, vocab.length);
  for (const w of words) {
    if (vocab.length >= limit) break;
    vocab.push(w);
  }
  return vocab;
}

/** The two tokenizer files, as JSON text. */
export function makeWordPieceTokenizer(o: WordPieceOptions = {}): { 'tokenizer.json': string; 'tokenizer_config.json': string } {
  const vocab = wordPieceVocab(o);
  const id = (t: string) => vocab.indexOf(t);
  const special = (t: string) => ({ SpecialToken: { id: t, type_id: 0 } });
  const tokenizer = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: BERT_SPECIALS.map((t) => ({
      id: id(t),
      content: t,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [special('[CLS]'), { Sequence: { id: 'A', type_id: 0 } }, special('[SEP]')],
      pair: [
        special('[CLS]'),
        { Sequence: { id: 'A', type_id: 0 } },
        special('[SEP]'),
        { Sequence: { id: 'B', type_id: 1 } },
        { SpecialToken: { id: '[SEP]', type_id: 1 } },
      ],
      special_tokens: Object.fromEntries(
        ['[CLS]', '[SEP]'].map((t) => [t, { id: t, ids: [id(t)], tokens: [t] }]),
      ),
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: {
      type: 'WordPiece',
      unk_token: '[UNK]',
      continuing_subword_prefix: '##',
      max_input_chars_per_word: 100,
      vocab: Object.fromEntries(vocab.map((t, i) => [t, i])),
    },
  };
  const config = {
    tokenizer_class: 'BertTokenizer',
    do_lower_case: true,
    do_basic_tokenize: true,
    never_split: null,
    tokenize_chinese_chars: true,
    strip_accents: null,
    clean_up_tokenization_spaces: true,
    model_max_length: o.modelMaxLength ?? 512,
    cls_token: '[CLS]',
    sep_token: '[SEP]',
    pad_token: '[PAD]',
    unk_token: '[UNK]',
    mask_token: '[MASK]',
  };
  return {
    'tokenizer.json': JSON.stringify(tokenizer, null, 2) + '\n',
    'tokenizer_config.json': JSON.stringify(config, null, 2) + '\n',
  };
}
