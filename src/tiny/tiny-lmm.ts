import { MemorySource } from '../io/source.js';
import { serializeSafetensors, type RawTensor } from '../io/safetensors.js';
import { tensorToRaw } from '../io/weights.js';
import { loadLMM } from '../lmm/load.js';
import { lmmCheckpointFiles } from '../lmm/save.js';
import { LMM } from '../lmm/lmm.js';
import type { ModalityConfig } from '../modality/modality.js';
import { modalityFromConfig } from '../modality/registry.js';
import { Rng } from '../util/rng.js';
import { parseLlamaConfig } from '../lm/config.js';
import { CHAT_TEMPLATES, type ChatStyle } from './chat-templates.js';
import { makeTinyTokenizer } from './make-tokenizer.js';
import { TINY_CORPUS } from './corpus.js';
import { randomLlamaWeights, tinyLlamaConfigJSON, type TinyArch } from './tiny-llama.js';
import { initProjector } from '../projector/index.js';

export interface TinyLMOptions {
  arch?: TinyArch;
  /** Chat template family of the tokenizer. Default: llama→llama3, mistral→mistral, qwen2→chatml. */
  style?: ChatStyle;
  vocabSize?: number;
  hiddenSize?: number;
  intermediateSize?: number;
  numHiddenLayers?: number;
  numAttentionHeads?: number;
  numKeyValueHeads?: number;
  maxPositionEmbeddings?: number;
  seed?: number;
  /** Weight init scale (see randomLlamaWeights). */
  std?: number;
  /** Extra text to train the tokenizer on (e.g. a dataset's conversations), added to the built-in corpus. */
  tokenizerCorpus?: string[];
}

const DEFAULT_STYLE: Record<TinyArch, ChatStyle> = { llama: 'llama3', mistral: 'mistral', qwen2: 'chatml' };

/**
 * A tiny random language model in exact Hugging Face format: config.json, model.safetensors and a real
 * (tiny, byte-level BPE) tokenizer with the family's chat template. Everything is deterministic from `seed`.
 */
export async function makeTinyLMFiles(o: TinyLMOptions = {}): Promise<Map<string, Uint8Array | string>> {
  const arch = o.arch ?? 'llama';
  const style = o.style ?? DEFAULT_STYLE[arch];
  const tok = makeTinyTokenizer({ style, vocabSize: o.vocabSize ?? 512, corpus: o.tokenizerCorpus ? [...TINY_CORPUS, ...o.tokenizerCorpus] : undefined });
  const tokJSON = JSON.parse(tok['tokenizer.json']) as { model: { vocab: Record<string, number> }; added_tokens: { id: number; content: string }[] };
  const vocabSize = Object.keys(tokJSON.model.vocab).length;
  const idOf = (t: string | undefined) => (t === undefined ? null : tokJSON.added_tokens.find((a) => a.content === t)?.id ?? null);
  const spec = CHAT_TEMPLATES[style];
  const raw = tinyLlamaConfigJSON({
    arch,
    // A vocabulary bigger than the tiny corpus can train is padding rows (as real Qwen2 configs pad theirs).
    vocabSize: Math.max(o.vocabSize ?? 0, vocabSize),
    hiddenSize: o.hiddenSize,
    intermediateSize: o.intermediateSize,
    numHiddenLayers: o.numHiddenLayers,
    numAttentionHeads: o.numAttentionHeads,
    numKeyValueHeads: o.numKeyValueHeads,
    maxPositionEmbeddings: o.maxPositionEmbeddings,
    bosTokenId: idOf(spec.bos),
    eosTokenId: idOf(spec.eos) ?? 0,
  });
  const config = parseLlamaConfig(raw);
  const weights = randomLlamaWeights(config, o.seed ?? 0, o.std);
  const rawWeights = new Map<string, RawTensor>();
  for (const [k, t] of weights) {
    rawWeights.set(k, await tensorToRaw(t));
    t.dispose();
  }
  return new Map<string, Uint8Array | string>([
    ['config.json', JSON.stringify(raw, null, 2) + '\n'],
    ['model.safetensors', serializeSafetensors(rawWeights, { format: 'pt' })],
    ['generation_config.json', JSON.stringify({ bos_token_id: raw.bos_token_id, eos_token_id: raw.eos_token_id }, null, 2) + '\n'],
    ...Object.entries(tok),
  ]);
}

export interface TinyLMMOptions extends TinyLMOptions {
  /** Modalities (their config entries); encoder files go under `encoderFiles[subfolder]`. */
  modalities: ModalityConfig[];
  /** Extra files, e.g. `vision_encoder/config.json`, referenced by the modality configs. */
  extraFiles?: Map<string, Uint8Array | string>;
  modalityBuilder?: string;
}

/**
 * A complete tiny multimodal checkpoint (LM + modalities + freshly initialised projectors) that `loadLMM`
 * loads: what `make-tiny --lmm` writes and what tests and examples use.
 */
export async function makeTinyLMMFiles(o: TinyLMMOptions): Promise<Map<string, Uint8Array | string>> {
  const files = await makeTinyLMFiles(o);
  for (const [k, v] of o.extraFiles ?? []) files.set(k, v);
  const lmSource = new MemorySource(files);
  const base = await loadLMM(lmSource);
  const rng = new Rng((o.seed ?? 0) + 1);
  const modalities = [];
  for (const mc of o.modalities) modalities.push(await modalityFromConfig(mc, { source: lmSource }));
  const projectors = modalities.map((m) => initProjector(m.projectorSpec, base.lm.config.hiddenSize, () => rng.next()));
  const lmm = new LMM(base.lm, base.tokenizer, modalities, projectors, {
    modalityBuilder: o.modalityBuilder ?? (o.modalities.map((m) => m.kind).join('+') || undefined),
  });
  const ckpt = await lmmCheckpointFiles(lmm, { includeLM: false });
  lmm.dispose();
  for (const [k, v] of ckpt) files.set(k, v);
  return files;
}
