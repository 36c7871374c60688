import type { tf } from '../tf.js';
import type { ModelSource } from '../io/source.js';
import { serializeSafetensors, type RawTensor } from '../io/safetensors.js';
import { shardTensors, tensorToRaw } from '../io/weights.js';
import { serializeTorchStateDict } from '../io/torch-pickle.js';
import { peftAdapterConfig, type LoraConfig } from '../lora/lora.js';
import { lmmConfigJSON } from './checkpoint-config.js';
import { SEED_PROJECTOR_PREFIX } from './projector-keys.js';
import type { LMM } from './lmm.js';

export interface CheckpointFilesOptions {
  /** Write the LM weights (full finetunes, merged models). Default false: adapters + projectors only. */
  includeLM?: boolean;
  /** Write the LoRA adapter in PEFT format (needs `lmm.lora`). */
  lora?: LoraConfig;
  /** Copies tokenizer.json & co. from here, so the checkpoint loads on its own. */
  tokenizerSource?: ModelSource;
  /** Float dtype of saved weights. Default F32. */
  dtype?: 'F32' | 'F16' | 'BF16';
  /** Shard model.safetensors above this size. Default 2 GiB. */
  maxShardBytes?: number;
  /** Extra config.json fields (e.g. rewritten encoder paths). */
  configOverrides?: (config: Record<string, unknown>) => Record<string, unknown>;
  /**
   * Save each modality's encoder (current weights) into `<name>_encoder/` and point config.json at it: for
   * encoders that were finetuned, and to make a checkpoint self-contained.
   */
  exportEncoders?: boolean;
}

const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'chat_template.jinja', 'generation_config.json'];

async function toRaw(params: Map<string, tf.Variable>, dtype: CheckpointFilesOptions['dtype'], rename: (k: string) => string) {
  const out = new Map<string, RawTensor>();
  for (const [k, v] of params) out.set(rename(k), await tensorToRaw(v, v.dtype === 'float32' ? (dtype ?? 'F32') : undefined));
  return out;
}

/**
 * The files of a checkpoint as name → bytes (Node writes them atomically; a browser can zip or upload them):
 * config.json with the seed's `model_cls`/`modality_builder`/`modalities` plus our `multi_token` section,
 * projectors in `non_lora_trainables.safetensors` and `.bin` (the seed's key names, so its `torch.load`
 * reads it), optionally PEFT adapter files and the LM weights.
 */
export async function lmmCheckpointFiles(lmm: LMM, opts: CheckpointFilesOptions = {}): Promise<Map<string, Uint8Array | string>> {
  const files = new Map<string, Uint8Array | string>();
  let config = lmmConfigJSON(lmm);
  if (opts.dtype && opts.dtype !== 'F32') config.torch_dtype = opts.dtype === 'F16' ? 'float16' : 'bfloat16';
  if (opts.configOverrides) config = opts.configOverrides(config);
  if (opts.exportEncoders) {
    const section = config.multi_token as { modalities: Record<string, unknown>[] };
    for (let i = 0; i < lmm.modalities.length; i++) {
      const m = lmm.modalities[i];
      if (!m.exportEncoder) continue;
      const folder = `${m.name}_encoder`;
      for (const [name, bytes] of await m.exportEncoder()) files.set(`${folder}/${name}`, bytes);
      section.modalities[i].encoder = folder;
    }
  }
  files.set('config.json', JSON.stringify(config, null, 2) + '\n');

  if (lmm.modalities.length) {
    const proj = await toRaw(lmm.projectorParameters(), opts.dtype, (k) => SEED_PROJECTOR_PREFIX + k.slice('model.'.length));
    files.set('non_lora_trainables.safetensors', serializeSafetensors(proj, { format: 'pt' }));
    files.set('non_lora_trainables.bin', serializeTorchStateDict(proj));
  }
  if (opts.lora) {
    if (!lmm.lora) throw new Error('lmmCheckpointFiles: lora config given but the model has no LoRA adapters');
    const adapter = await toRaw(lmm.loraParameters(), opts.dtype, (k) => k);
    files.set('adapter_model.safetensors', serializeSafetensors(adapter, { format: 'pt' }));
    files.set('adapter_config.json', JSON.stringify(peftAdapterConfig(opts.lora, lmm.meta.baseModel ?? ''), null, 2) + '\n');
  }
  if (opts.includeLM) {
    const weights = await toRaw(lmm.lm.parameters(), opts.dtype, (k) => k);
    for (const [name, bytes] of shardTensors(weights, opts.maxShardBytes ?? 2 * 1024 ** 3)) files.set(name, bytes);
  }
  if (opts.tokenizerSource) {
    for (const name of TOKENIZER_FILES) {
      if (await opts.tokenizerSource.exists(name)) files.set(name, await opts.tokenizerSource.readFile(name));
    }
  }
  return files;
}
