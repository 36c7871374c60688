/**
 * Builds tiny but real Hugging Face tokenizers (`tokenizer.json`, `tokenizer_config.json`,
 * `special_tokens_map.json`) for the project's `make-tiny` checkpoints, with no downloads: a byte-level BPE
 * trained on the built-in corpus, plus the chat template and special tokens of a real model family.
 *
 * Decisions (see also `bpe-trainer.ts`):
 * - Every style is byte-level BPE. llama3 and chatml use the real Llama-3 / Qwen2 pipelines (split regex,
 *   normalizer, post-processor, decoder). Real Mistral v0.1 and Zephyr are SentencePiece BPE (`▁`, byte
 *   fallback); their tiny versions are GPT-2-style byte-level BPE that keep the real chat template, special tokens,
 *   special ids (`<unk>`=0, `<s>`=1, `</s>`=2) and BOS post-processor. Any text round-trips in every style.
 * - Special tokens take ids 0..k-1 (the order of {@link CHAT_TEMPLATES}, then `extraSpecialTokens`), as the Rust
 *   `BpeTrainer` places them; that matches Mistral's real ids exactly.
 * - `tokenizer_class` is chosen so that transformers.js and Python transformers run the `tokenizer.json` as
 *   written (checked: Rust `tokenizers` 0.23, transformers 5.18 and transformers.js 4.3.1 give identical ids): `PreTrainedTokenizerFast` for mistral, zephyr and llama3 (what Meta ships
 *   for Llama-3; the real `LlamaTokenizerFast` of Mistral/Zephyr would make transformers v5 rebuild a
 *   SentencePiece pipeline around our byte-level vocabulary), and `Qwen2Tokenizer` for chatml (as Qwen ships it;
 *   transformers v5 rebuilds the Qwen2 pipeline, which is the one we write).
 * - `clean_up_tokenization_spaces` is false for every style (Qwen2, Mistral and Zephyr ship false; Llama-3 ships
 *   true, which makes decode turn `"a ."` into `"a."`, so the tiny Llama-3 tokenizer differs there).
 */

import { trainByteLevelBPE, type BPEPreset, type TokenizerJSON } from './bpe-trainer.js';
import { CHAT_TEMPLATES, type ChatStyle } from './chat-templates.js';
import { TINY_CORPUS } from './corpus.js';

/** Options of {@link makeTinyTokenizer}. */
export interface TinyTokenizerOptions {
  /** Which real model family's chat template and special tokens to use. */
  style: ChatStyle;
  /** Total vocabulary size, special tokens included (default 512). */
  vocabSize?: number;
  /** More special tokens (for example modality tokens such as `<image>`), added after the style's own. */
  extraSpecialTokens?: string[];
  /** Training text (default: the built-in {@link TINY_CORPUS}). */
  corpus?: readonly string[];
}

/** The three tokenizer files of a Hugging Face checkpoint, as file contents ready to write. */
export interface TinyTokenizerFiles {
  'tokenizer.json': string;
  'tokenizer_config.json': string;
  'special_tokens_map.json': string;
}

/** Python's `VERY_LARGE_INTEGER` (`int(1e30)`), what real Llama/Mistral configs store as `model_max_length`. */
const VERY_LARGE_INTEGER = '1000000000000000019884624838656';
/** Stands in for {@link VERY_LARGE_INTEGER} until serialization (JSON.stringify would write `1e+30`). */
const MAX_PLACEHOLDER = '__VERY_LARGE_INTEGER__';

interface StyleConfig {
  preset: BPEPreset;
  tokenizerClass: string;
  /** `additional_special_tokens`, when the real config lists more than the non-named special tokens. */
  additional?: string[];
  modelMaxLength: number | 'very-large';
  /** Keys the real `tokenizer_config.json` has beyond the common ones. */
  extra: Record<string, unknown>;
}

const STYLE_CONFIG: Record<ChatStyle, StyleConfig> = {
  mistral: { preset: 'gpt2', tokenizerClass: 'PreTrainedTokenizerFast', modelMaxLength: 'very-large', extra: {} },
  llama3: {
    preset: 'llama3',
    tokenizerClass: 'PreTrainedTokenizerFast',
    modelMaxLength: 'very-large',
    extra: { model_input_names: ['input_ids', 'attention_mask'] },
  },
  chatml: {
    preset: 'qwen2',
    tokenizerClass: 'Qwen2Tokenizer',
    additional: ['<|im_start|>', '<|im_end|>'],
    modelMaxLength: 32768,
    extra: { errors: 'replace', split_special_tokens: false },
  },
  zephyr: {
    preset: 'gpt2',
    tokenizerClass: 'PreTrainedTokenizerFast',
    modelMaxLength: 'very-large',
    extra: { truncation_side: 'left' },
  },
};

/**
 * Trains a tiny byte-level BPE tokenizer in the given chat style and returns its three files. Deterministic:
 * the same options always give byte-identical files.
 */
export function makeTinyTokenizer(options: TinyTokenizerOptions): TinyTokenizerFiles {
  const { style, vocabSize = 512, extraSpecialTokens = [], corpus = TINY_CORPUS } = options;
  const spec = CHAT_TEMPLATES[style];
  if (!spec) throw new Error(`makeTinyTokenizer: unknown style "${style}" (${Object.keys(CHAT_TEMPLATES).join(', ')})`);
  const cfg = STYLE_CONFIG[style];
  const specialTokens = [...spec.specialTokens];
  for (const t of extraSpecialTokens) if (!specialTokens.includes(t)) specialTokens.push(t);

  const json = trainByteLevelBPE(corpus, {
    vocabSize,
    specialTokens,
    bosToken: spec.addBosInPostProcessor ? spec.bos : undefined,
    preset: cfg.preset,
  });

  const named = new Set([spec.bos, spec.eos, spec.pad, spec.unk].filter((t): t is string => t !== undefined));
  const additional = [...(cfg.additional ?? specialTokens.filter((t) => !named.has(t)))];
  for (const t of extraSpecialTokens) if (!additional.includes(t)) additional.push(t);
  const addedTokensDecoder: Record<string, unknown> = {};
  for (const t of json.added_tokens) {
    addedTokensDecoder[String(t.id)] = {
      content: t.content,
      lstrip: t.lstrip,
      normalized: t.normalized,
      rstrip: t.rstrip,
      single_word: t.single_word,
      special: t.special,
    };
  }

  const config: Record<string, unknown> = {
    add_bos_token: spec.addBosInPostProcessor,
    add_eos_token: false,
    added_tokens_decoder: addedTokensDecoder,
    additional_special_tokens: additional,
    bos_token: spec.bos ?? null,
    chat_template: spec.template,
    clean_up_tokenization_spaces: false,
    eos_token: spec.eos,
    model_max_length: cfg.modelMaxLength === 'very-large' ? MAX_PLACEHOLDER : cfg.modelMaxLength,
    pad_token: spec.pad ?? null,
    tokenizer_class: cfg.tokenizerClass,
    unk_token: spec.unk ?? null,
    ...cfg.extra,
  };
  const sortedConfig = Object.fromEntries(Object.entries(config).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));

  const specialMap: Record<string, unknown> = {};
  if (additional.length > 0) specialMap.additional_special_tokens = additional;
  if (spec.bos) specialMap.bos_token = spec.bos;
  specialMap.eos_token = spec.eos;
  if (spec.pad) specialMap.pad_token = spec.pad;
  if (spec.unk) specialMap.unk_token = spec.unk;

  return {
    'tokenizer.json': stringifyTokenizerJSON(json),
    'tokenizer_config.json': JSON.stringify(sortedConfig, null, 2).replace(`"${MAX_PLACEHOLDER}"`, VERY_LARGE_INTEGER) + '\n',
    'special_tokens_map.json': JSON.stringify(specialMap, null, 2) + '\n',
  };
}

/**
 * Serializes a {@link TokenizerJSON} the way `tokenizers` saves it (2-space indent), with `model.vocab` in id
 * order: plain `JSON.stringify` would hoist integer-like keys such as `"12"` to the front of the object.
 */
export function stringifyTokenizerJSON(json: TokenizerJSON): string {
  const marker = '"__VOCAB_IN_ID_ORDER__"';
  const text = JSON.stringify({ ...json, model: { ...json.model, vocab: JSON.parse(marker) } }, null, 2);
  const entries = Object.entries(json.model.vocab).sort((x, y) => x[1] - y[1]);
  const vocab = `{\n${entries.map(([t, i]) => `      ${JSON.stringify(t)}: ${i}`).join(',\n')}\n    }`;
  return text.replace(marker, () => vocab);
}
