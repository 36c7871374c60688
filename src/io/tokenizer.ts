/**
 * Loads any Hugging Face "fast" tokenizer (`tokenizer.json` + `tokenizer_config.json`) through a
 * {@link ModelSource} — a folder, a URL or memory — into a transformers.js tokenizer, and offers the few helpers
 * the rest of the code needs (encode, decode, special ids, chat rendering).
 *
 * It never asks the Hugging Face hub for anything: files are read through the source, the class is picked from
 * `tokenizer_config.tokenizer_class`, and the tokenizer is constructed directly. As a second guard, loading this
 * module sets transformers.js's `env.allowRemoteModels = false`.
 */

import * as transformers from '@huggingface/transformers';
import type { PreTrainedTokenizer } from '@huggingface/transformers';
import { ModelFileError, joinLocation, readJSON, readText, type ModelSource } from './source.js';

// Safety: nothing in this project may fetch models from the hub by id.
transformers.env.allowRemoteModels = false;

type TokenizerClass = new (tokenizerJSON: object, tokenizerConfig: object) => PreTrainedTokenizer;

/** A chat message as chat templates see it. */
export interface ChatMessage {
  role: string;
  content: string;
}

/**
 * Loads the tokenizer of the model at `source`.
 *
 * Reads `tokenizer.json` (required) and `tokenizer_config.json` (optional). When the config has no
 * `chat_template`, the newer layouts are tried: `chat_template.jinja` (raw Jinja), then `chat_template.json`
 * (`{"chat_template": …}`). The class is `tokenizer_class` without its `Fast` suffix (`LlamaTokenizerFast` →
 * `LlamaTokenizer`), looked up among transformers.js's exports, with `PreTrainedTokenizer` as the fallback.
 */
export async function loadTokenizer(source: ModelSource): Promise<PreTrainedTokenizer> {
  let tokenizerJSON: unknown;
  try {
    tokenizerJSON = await readJSON(source, 'tokenizer.json');
  } catch (e) {
    if (e instanceof ModelFileError && /not valid JSON/.test(e.message)) throw e;
    throw new ModelFileError(
      `no tokenizer.json at ${joinLocation(source.location, 'tokenizer.json')}: a tokenizer needs the Hugging Face ` +
        `"fast" tokenizer file (slow-only files such as tokenizer.model or vocab.json + merges.txt are not ` +
        `supported; convert them with transformers' AutoTokenizer.save_pretrained) (${(e as Error).message})`,
    );
  }
  if (!isObject(tokenizerJSON) || !isObject(tokenizerJSON.model)) {
    throw new ModelFileError(`${joinLocation(source.location, 'tokenizer.json')} has no "model" object`);
  }

  const config: Record<string, unknown> = (await source.exists('tokenizer_config.json'))
    ? await readJSON<Record<string, unknown>>(source, 'tokenizer_config.json')
    : {};
  if (!isObject(config)) {
    throw new ModelFileError(`${joinLocation(source.location, 'tokenizer_config.json')} is not a JSON object`);
  }
  if (config.chat_template == null) {
    const template = await findChatTemplate(source);
    if (template !== undefined) config.chat_template = template;
  }

  const Cls = tokenizerClass(config.tokenizer_class);
  try {
    return new Cls(tokenizerJSON, config);
  } catch (e) {
    throw new ModelFileError(
      `could not build the tokenizer from ${joinLocation(source.location, 'tokenizer.json')}: ${(e as Error).message}`,
    );
  }
}

/** Looks for a chat template stored outside `tokenizer_config.json` (transformers ≥ 4.43 layouts). */
async function findChatTemplate(source: ModelSource): Promise<unknown> {
  if (await source.exists('chat_template.jinja')) return readText(source, 'chat_template.jinja');
  if (await source.exists('chat_template.json')) {
    const doc = await readJSON<unknown>(source, 'chat_template.json');
    if (isObject(doc) && doc.chat_template != null) return doc.chat_template;
    throw new ModelFileError(`${joinLocation(source.location, 'chat_template.json')} has no "chat_template" field`);
  }
  return undefined;
}

/** The transformers.js class for a `tokenizer_class` name, or `PreTrainedTokenizer` if it has none. */
function tokenizerClass(name: unknown): TokenizerClass {
  const base = transformers.PreTrainedTokenizer as unknown as TokenizerClass;
  if (typeof name !== 'string' || name === '') return base;
  const candidate = (transformers as unknown as Record<string, unknown>)[name.replace(/Fast$/, '')];
  if (typeof candidate === 'function' && (candidate === base || candidate.prototype instanceof base)) {
    return candidate as TokenizerClass;
  }
  return base;
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** Token ids of `text`; with `addSpecial`, the tokenizer's post-processor adds its special tokens (e.g. BOS). */
export function encodeText(tok: PreTrainedTokenizer, text: string, addSpecial = false): number[] {
  return tok.encode(text, { add_special_tokens: addSpecial });
}

/** The text of `ids`; special tokens are dropped unless `skipSpecial` is false. An empty list decodes to ''. */
export function decodeIds(tok: PreTrainedTokenizer, ids: readonly number[], skipSpecial = true): string {
  if (ids.length === 0) return '';
  return tok.decode([...ids], { skip_special_tokens: skipSpecial });
}

/** Special token ids of a tokenizer. `eos` lists every id generation should stop on. */
export interface SpecialTokenIds {
  bos?: number;
  /** `eos_token_id` first, then the extra end-of-turn tokens found (see {@link specialTokenIds}). */
  eos: number[];
  /** Only when `tokenizer_config.json` names a pad token (transformers.js would silently fall back to eos). */
  pad?: number;
  unk?: number;
}

/**
 * End-of-turn tokens that real models list in `generation_config.json`'s `eos_token_id` besides
 * `tokenizer_config.eos_token`: Llama-3-Instruct (`<|eot_id|>`, `<|end_of_text|>`, `<|eom_id|>`), Qwen2/ChatML
 * (`<|im_end|>`, `<|endoftext|>`), Phi-3 (`<|end|>`, `<|endoftext|>`), Gemma (`<end_of_turn>`).
 */
export const EXTRA_END_TOKENS: readonly string[] = [
  '<|eot_id|>',
  '<|end_of_text|>',
  '<|eom_id|>',
  '<|im_end|>',
  '<|endoftext|>',
  '<|end|>',
  '<end_of_turn>',
];

/**
 * The tokenizer's special ids. `eos` holds `eos_token_id` (if set) followed by each of {@link EXTRA_END_TOKENS}
 * that the tokenizer has as a *special* added token, so generation stops where the real models' generation
 * configs make it stop (e.g. both `<|im_end|>` and `<|endoftext|>` for Qwen2). Ordinary vocabulary entries that
 * happen to spell one of these strings are ignored.
 */
export function specialTokenIds(tok: PreTrainedTokenizer): SpecialTokenIds {
  const id = (x: unknown): number | undefined => (typeof x === 'number' && Number.isInteger(x) ? x : undefined);
  const eos: number[] = [];
  const eosId = id(tok.eos_token_id);
  if (eosId !== undefined) eos.push(eosId);
  const special = new Set(tok.all_special_ids);
  for (const t of EXTRA_END_TOKENS) {
    const tid = id(tok.convert_tokens_to_ids(t));
    if (tid !== undefined && special.has(tid) && !eos.includes(tid)) eos.push(tid);
  }
  const out: SpecialTokenIds = { eos };
  const bos = id(tok.bos_token_id);
  const pad = id(tok.config?.pad_token == null ? undefined : tok.pad_token_id);
  const unk = id(tok.unk_token_id);
  if (bos !== undefined) out.bos = bos;
  if (pad !== undefined) out.pad = pad;
  if (unk !== undefined) out.unk = unk;
  return out;
}

/** Options of {@link renderChat}. */
export interface RenderChatOptions {
  /** Append the assistant header so the model answers next (default false). */
  addGenerationPrompt?: boolean;
}

/**
 * Renders `messages` with the tokenizer's chat template (no tokenization). The template decides BOS and
 * special-token markup, so encode the result with `addSpecial = false`.
 */
export function renderChat(
  tok: PreTrainedTokenizer,
  messages: readonly ChatMessage[],
  { addGenerationPrompt = false }: RenderChatOptions = {},
): string {
  const out = tok.apply_chat_template(
    messages.map((m) => ({ ...m })),
    { tokenize: false, add_generation_prompt: addGenerationPrompt },
  );
  if (typeof out !== 'string') throw new Error('apply_chat_template returned a non-string with tokenize: false');
  return out;
}
