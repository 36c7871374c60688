import { tf, type Tensor } from '../tf.js';
import type { Batch } from '../data/collate.js';
import type { BatchFeatures, LMM } from '../lmm/lmm.js';
import type { PreprocessContext } from '../modality/modality.js';
import type { RawTensor } from '../io/safetensors.js';
import { rawToTensor, tensorToRaw } from '../io/weights.js';

/**
 * Gives the encoder features for a batch: computed, or from a cache — or, when the encoders train, a function
 * the trainer calls inside its gradient tape so the encoders receive gradients.
 */
export type FeatureProvider = (batch: Batch) => Promise<BatchFeatures | (() => BatchFeatures)>;

/** What a feature provider reads of a batch: row ids, their items and the placeholder layout. */
export type FeatureBatch = Pick<Batch, 'ids' | 'items' | 'layout'>;

/** Preprocesses outside the tape (async I/O), then encodes inside it: for `--train_encoders`. */
export function trainableEncoderFeatures(lmm: LMM, ctx: Omit<PreprocessContext, 'rowId'> = {}): FeatureProvider {
  return async (batch) => {
    const pre = await lmm.preprocess(batch.items, batch.ids, ctx);
    return () => lmm.encodeSync(pre, batch.layout, batch.ids);
  };
}

/** Where cached per-row features persist between epochs and runs (Node: a folder of safetensors files). */
export interface FeatureStore {
  get(key: string): Promise<Map<string, RawTensor> | null>;
  put(key: string, tensors: Map<string, RawTensor>): Promise<void>;
}

/** Computes features with the model's encoders every time (no cache). */
export function encoderFeatures(lmm: LMM, ctx: Omit<PreprocessContext, 'rowId'> = {}): FeatureProvider {
  return async (batch) => lmm.encode(await lmm.preprocess(batch.items, batch.ids, ctx), batch.layout, batch.ids);
}

/**
 * Caches each row's encoder output (per modality `[items, tokens, dim]`) by row id, in memory and optionally in
 * a `FeatureStore`, so epochs after the first skip preprocessing and the frozen encoders entirely. Only valid
 * while encoders are frozen; the key includes `fingerprint` (model + modality config) so a changed encoder
 * never reuses stale features.
 */
export function cachedFeatures(
  lmm: LMM,
  ctx: Omit<PreprocessContext, 'rowId'> = {},
  store?: FeatureStore,
  fingerprint = '',
): ((batch: FeatureBatch) => Promise<BatchFeatures>) & { dispose(): void; hits: number; misses: number } {
  const memory = new Map<string, Tensor[]>();
  const M = lmm.modalities.length;
  const provider = async (batch: FeatureBatch): Promise<BatchFeatures> => {
    const missing: number[] = [];
    for (let b = 0; b < batch.ids.length; b++) {
      const key = `${fingerprint}:${batch.ids[b]}`;
      if (memory.has(key)) {
        provider.hits++;
        continue;
      }
      const stored = store ? await store.get(key) : null;
      if (stored) {
        memory.set(key, lmm.modalities.map((_, m) => rawToTensor(stored.get(`m${m}`)!)));
        provider.hits++;
      } else {
        missing.push(b);
      }
    }
    if (missing.length) {
      provider.misses += missing.length;
      const ids = missing.map((b) => batch.ids[b]);
      const items = lmm.modalities.map((_, m) => missing.map((b) => batch.items[m][b]));
      const pre = await lmm.preprocess(items, ids, ctx);
      for (let m = 0; m < M; m++) {
        const perRow = await lmm.modalities[m].encode(pre[m]);
        perRow.forEach((t, i) => {
          const key = `${fingerprint}:${ids[i]}`;
          const list = memory.get(key) ?? new Array<Tensor>(M);
          list[m] = tf.keep(t);
          memory.set(key, list);
        });
      }
      if (store) {
        for (const id of ids) {
          const key = `${fingerprint}:${id}`;
          const raw = new Map<string, RawTensor>();
          const list = memory.get(key)!;
          for (let m = 0; m < M; m++) raw.set(`m${m}`, await tensorToRaw(list[m]));
          await store.put(key, raw);
        }
      }
    }
    return lmm.modalities.map((mod, m) => {
      const parts = batch.ids.map((id, b) => {
        const t = memory.get(`${fingerprint}:${id}`)![m];
        if (t.shape[0] !== batch.layout.itemCounts[m][b]) {
          throw new Error(`row ${JSON.stringify(id)}: cached ${mod.name} features have ${t.shape[0]} items, the row has ${batch.layout.itemCounts[m][b]}`);
        }
        return t;
      }).filter((t) => t.shape[0] > 0);
      return parts.length ? tf.concat(parts, 0) : null;
    });
  };
  provider.hits = 0;
  provider.misses = 0;
  provider.dispose = () => {
    for (const list of memory.values()) for (const t of list) t?.dispose();
    memory.clear();
  };
  return provider;
}
