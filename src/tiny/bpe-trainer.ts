/**
 * A small, deterministic byte-level BPE trainer that writes Hugging Face `tokenizers` `tokenizer.json` objects.
 *
 * Why hand-written: npm has no maintained JavaScript BPE *trainer*. `@huggingface/tokenizers` (0.2.0, installed
 * as a dependency of transformers.js) only *runs* tokenizers: it exports `Tokenizer`, models, normalizers,
 * pre-tokenizers, post-processors and decoders, and nothing that trains. The Rust/Python trainer does not run in
 * Node or the browser.
 *
 * The output is what the Rust `tokenizers` library writes today for byte-level BPE: `model.type` is `BPE`,
 * `merges` are `[left, right]` pairs (the format `tokenizers` ≥ 0.20 writes; transformers.js 4.3.1 reads both that
 * and the older `"left right"` strings), and the normalizer / pre-tokenizer / post-processor / decoder are those
 * of a real tokenizer family (see {@link BPEPreset}). Special tokens take ids `0..k-1` in the order given, then
 * come the 256 byte symbols in GPT-2 `bytes_to_unicode` order, then one id per new merged token.
 *
 * Training counts pairs once, then updates the counts incrementally, touching only the words that contain the
 * merged pair; the best pair comes from a lazy max-heap. Ties in count go to the lexicographically smallest
 * (left id, right id) pair, the Rust `BpeTrainer`'s rule: with the same corpus, special tokens and
 * `initial_alphabet = ByteLevel.alphabet()`, this trainer yields the same merges and vocabulary as `tokenizers`
 * 0.23 (checked against it; `test/tokenizer-bpe.test.ts` pins one such result).
 */

type Json = Record<string, unknown>;

/** One entry of `added_tokens` in `tokenizer.json`. */
export interface AddedTokenJSON {
  id: number;
  content: string;
  single_word: boolean;
  lstrip: boolean;
  rstrip: boolean;
  normalized: boolean;
  special: boolean;
}

/** A `tokenizer.json` object for a byte-level BPE tokenizer, in the Hugging Face `tokenizers` format. */
export interface TokenizerJSON {
  version: string;
  truncation: null;
  padding: null;
  added_tokens: AddedTokenJSON[];
  normalizer: Json | null;
  pre_tokenizer: Json;
  post_processor: Json;
  decoder: Json;
  model: {
    type: 'BPE';
    dropout: null;
    unk_token: null;
    continuing_subword_prefix: null;
    end_of_word_suffix: null;
    fuse_unk: boolean;
    byte_fallback: boolean;
    ignore_merges: boolean;
    vocab: Record<string, number>;
    merges: [string, string][];
  };
}

/**
 * Which real tokenizer family's pipeline to write, and to pre-tokenize the corpus with while training:
 * - `gpt2`: `ByteLevel` pre-tokenizer with GPT-2's regex (`use_regex: true`), no normalizer.
 * - `llama3`: Llama-3's `Split` regex (digits in runs of up to 3) + `ByteLevel`, `ignore_merges`, as Meta ships it.
 * - `qwen2`: NFC + Qwen2's `Split` regex (single digits) + `ByteLevel`: exactly the pipeline that Python
 *   transformers' `Qwen2Tokenizer` rebuilds around a `tokenizer.json`'s vocabulary and merges.
 */
export type BPEPreset = 'gpt2' | 'llama3' | 'qwen2';

/** Options of {@link trainByteLevelBPE}. */
export interface BPETrainOptions {
  /** Final vocabulary size, special tokens and the 256 byte symbols included. */
  vocabSize: number;
  /** Special tokens; they get ids 0..k-1 in this order and become `added_tokens` with `special: true`. */
  specialTokens: string[];
  /**
   * A special token the post-processor prepends when special tokens are added (Llama / Mistral: `<s>`,
   * `<|begin_of_text|>`). Omit for none (Qwen2: a plain `ByteLevel` post-processor).
   */
  bosToken?: string;
  /** Pairs seen fewer times than this are never merged (default 1: merge until `vocabSize` or no pairs are left). */
  minFrequency?: number;
  /** Tokenizer family (default `gpt2`). */
  preset?: BPEPreset;
}

/** GPT-2's reversible byte → printable-character map (`bytes_to_unicode`), as a 256-entry array. */
export function byteToUnicode(): string[] {
  const out = new Array<string>(256);
  const printable = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  let n = 0;
  for (let b = 0; b < 256; b++) out[b] = String.fromCharCode(printable(b) ? b : 256 + n++);
  return out;
}

/** The Llama-3 split regex as stored in `tokenizer.json` (Oniguruma syntax); Qwen2's differs only in digits. */
const LLAMA3_REGEX =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const QWEN2_REGEX = LLAMA3_REGEX.replace('\\p{N}{1,3}', '\\p{N}');

/**
 * The split patterns in JavaScript syntax, written the way transformers.js rewrites them (`(?i:…)` spelled out,
 * `\s` as `\p{White_Space}`), so that training splits text exactly as encoding later does.
 */
const JS_SPLIT: Record<BPEPreset, RegExp> = {
  gpt2: /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu,
  llama3: jsSplit('\\p{N}{1,3}'),
  qwen2: jsSplit('\\p{N}'),
};
function jsSplit(digits: string): RegExp {
  const ws = '\\p{White_Space}';
  return new RegExp(
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|" +
      `${digits}| ?[^${ws}\\p{L}\\p{N}]+[\\r\\n]*|${ws}*[\\r\\n]+|${ws}+(?!\\P{White_Space})|${ws}+`,
    'gu',
  );
}

const BYTE_CHARS = byteToUnicode();
const UTF8 = new TextEncoder();

/**
 * Splits `text` into pre-tokens as the preset's tokenizer does when encoding (normalizer, then the regex split
 * keeping unmatched gaps like `Split`'s `Isolated` behaviour) and maps each to GPT-2 byte characters.
 */
export function preTokenize(text: string, preset: BPEPreset = 'gpt2'): string[] {
  const input = preset === 'qwen2' ? text.normalize('NFC') : text;
  const pieces: string[] = [];
  let last = 0;
  for (const m of input.matchAll(JS_SPLIT[preset])) {
    if (m.index > last) pieces.push(input.slice(last, m.index));
    if (m[0].length > 0) pieces.push(m[0]);
    last = m.index + m[0].length;
  }
  if (last < input.length) pieces.push(input.slice(last));
  return pieces.map((p) => Array.from(UTF8.encode(p), (b) => BYTE_CHARS[b]).join(''));
}

/** Pair keys pack two ids into one number (left * 2^21 + right), so key order is (left, right) order. */
const PAIR_SHIFT = 2 ** 21;

/**
 * Trains a byte-level BPE tokenizer on `corpus` and returns its `tokenizer.json` object. Any text round-trips
 * through the result (every byte is in the vocabulary), and special tokens are never split.
 */
export function trainByteLevelBPE(corpus: readonly string[], options: BPETrainOptions): TokenizerJSON {
  const { vocabSize, specialTokens, bosToken, minFrequency = 1, preset = 'gpt2' } = options;
  const where0 = 'trainByteLevelBPE:';
  if (new Set(specialTokens).size !== specialTokens.length) throw new Error(`${where0} duplicate special tokens`);
  if (vocabSize < specialTokens.length + 256 || vocabSize >= PAIR_SHIFT) {
    throw new Error(`${where0} vocabSize ${vocabSize} must be in [${specialTokens.length} specials + 256, 2^21)`);
  }
  if (bosToken !== undefined && !specialTokens.includes(bosToken)) {
    throw new Error(`${where0} bosToken ${bosToken} is not one of the special tokens`);
  }

  // Vocabulary: special tokens, then the byte alphabet sorted by character (as BpeTrainer sorts it), then merges.
  const tokens: string[] = [...specialTokens, ...[...BYTE_CHARS].sort().filter((c) => !specialTokens.includes(c))];
  const idOf = new Map(tokens.map((t, i) => [t, i] as const));

  // Word-frequency table over pre-tokenized, byte-mapped words.
  const wordFreq = new Map<string, number>();
  for (const text of corpus) for (const w of preTokenize(text, preset)) wordFreq.set(w, (wordFreq.get(w) ?? 0) + 1);
  const words: number[][] = [];
  const freqs: number[] = [];
  for (const [w, f] of wordFreq) {
    words.push(Array.from(w, (ch) => idOf.get(ch)!));
    freqs.push(f);
  }

  const pairCounts = new Map<number, number>();
  const pairWhere = new Map<number, Set<number>>();
  const changed = new Set<number>();
  const countWord = (wi: number, sign: 1 | -1) => {
    const w = words[wi]!;
    for (let i = 0; i + 1 < w.length; i++) {
      const key = w[i]! * PAIR_SHIFT + w[i + 1]!;
      const c = (pairCounts.get(key) ?? 0) + sign * freqs[wi]!;
      if (c > 0) pairCounts.set(key, c);
      else pairCounts.delete(key);
      changed.add(key);
      if (sign > 0) {
        const s = pairWhere.get(key);
        if (s) s.add(wi);
        else pairWhere.set(key, new Set([wi]));
      }
    }
  };
  words.forEach((_, wi) => countWord(wi, 1));

  // Lazy max-heap of [count, key]: an entry is valid while its count equals the pair's current count.
  const heap: [number, number][] = [];
  const above = (x: [number, number], y: [number, number]) => (x[0] !== y[0] ? x[0] > y[0] : x[1] < y[1]);
  const swap = (i: number, j: number) => ([heap[i], heap[j]] = [heap[j]!, heap[i]!]);
  const push = (e: [number, number]) => {
    heap.push(e);
    for (let i = heap.length - 1, p = (i - 1) >> 1; i > 0 && above(heap[i]!, heap[p]!); i = p, p = (i - 1) >> 1) {
      swap(i, p);
    }
  };
  const pop = (): [number, number] | undefined => {
    const top = heap[0];
    const last = heap.pop()!;
    if (heap.length === 0) return top;
    heap[0] = last;
    for (let i = 0; ; ) {
      let m = i;
      for (const c of [2 * i + 1, 2 * i + 2]) if (c < heap.length && above(heap[c]!, heap[m]!)) m = c;
      if (m === i) return top;
      swap(i, m);
      i = m;
    }
  };
  const flushChanged = () => {
    for (const key of changed) {
      const count = pairCounts.get(key);
      if (count !== undefined) push([count, key]);
    }
    changed.clear();
  };
  flushChanged();

  const merges: [string, string][] = [];
  while (tokens.length < vocabSize) {
    let best = pop();
    while (best && pairCounts.get(best[1]) !== best[0]) best = pop(); // skip stale entries
    if (!best || best[0] < minFrequency) break;
    const a = Math.floor(best[1] / PAIR_SHIFT);
    const b = best[1] % PAIR_SHIFT;
    const merged = tokens[a]! + tokens[b]!;
    let id = idOf.get(merged);
    if (id === undefined) {
      id = tokens.push(merged) - 1;
      idOf.set(merged, id);
    }
    merges.push([tokens[a]!, tokens[b]!]);
    const where = pairWhere.get(best[1]) ?? new Set<number>();
    pairWhere.delete(best[1]);
    for (const wi of where) {
      const w = words[wi]!;
      const out: number[] = [];
      for (let i = 0; i < w.length; i++) {
        if (w[i] === a && w[i + 1] === b) {
          out.push(id);
          i++;
        } else out.push(w[i]!);
      }
      if (out.length === w.length) continue; // stale: the word no longer holds the pair
      countWord(wi, -1);
      words[wi] = out;
      countWord(wi, 1);
    }
    flushChanged();
  }

  const vocab: Record<string, number> = {};
  tokens.forEach((t, i) => (vocab[t] = i));
  const flags = { single_word: false, lstrip: false, rstrip: false, normalized: false, special: true };
  const added_tokens = specialTokens.map((content, id) => ({ id, content, ...flags }));
  const bos = bosToken === undefined ? undefined : { token: bosToken, id: idOf.get(bosToken)! };
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens,
    ...pipeline(preset, bos),
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: preset === 'llama3',
      vocab,
      merges,
    },
  };
}

/** Normalizer, pre-tokenizer, post-processor and decoder of each preset, as the real tokenizer files have them. */
function pipeline(
  preset: BPEPreset,
  bos?: { token: string; id: number },
): Pick<TokenizerJSON, 'normalizer' | 'pre_tokenizer' | 'post_processor' | 'decoder'> {
  const byteLevel = (add_prefix_space: boolean, trim_offsets: boolean, use_regex: boolean) =>
    ({ type: 'ByteLevel', add_prefix_space, trim_offsets, use_regex }) as Json;
  const split = (regex: string) => ({ type: 'Split', pattern: { Regex: regex }, behavior: 'Isolated', invert: false });
  const bosTemplate = (t: { token: string; id: number }) => {
    const special = (type_id: number) => ({ SpecialToken: { id: t.token, type_id } });
    const seq = (id: 'A' | 'B', type_id: number) => ({ Sequence: { id, type_id } });
    return {
      type: 'TemplateProcessing',
      single: [special(0), seq('A', 0)],
      pair: [special(0), seq('A', 0), special(1), seq('B', 1)],
      special_tokens: { [t.token]: { id: t.token, ids: [t.id], tokens: [t.token] } },
    };
  };
  const plainPost = byteLevel(false, false, false);
  switch (preset) {
    case 'gpt2':
      return {
        normalizer: null,
        pre_tokenizer: byteLevel(false, true, true),
        post_processor: bos ? bosTemplate(bos) : plainPost,
        decoder: byteLevel(true, true, true),
      };
    case 'llama3':
      return {
        normalizer: null,
        pre_tokenizer: { type: 'Sequence', pretokenizers: [split(LLAMA3_REGEX), byteLevel(false, true, false)] },
        post_processor: bos
          ? { type: 'Sequence', processors: [byteLevel(true, false, true), bosTemplate(bos)] }
          : byteLevel(true, false, true),
        decoder: byteLevel(true, true, true),
      };
    case 'qwen2':
      return {
        normalizer: { type: 'NFC' },
        pre_tokenizer: { type: 'Sequence', pretokenizers: [split(QWEN2_REGEX), byteLevel(false, false, false)] },
        post_processor: bos ? bosTemplate(bos) : plainPost,
        decoder: byteLevel(false, false, false),
      };
  }
}
