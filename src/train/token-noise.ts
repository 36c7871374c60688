/**
 * Unigram input noising (Xie et al. 2017, "Data Noising as Smoothing in Neural Network Language Models", §3.2):
 * each response token in a batch's *inputs* is replaced, with probability `p`, by a token drawn from the batch's
 * own response tokens (so common words are drawn more often, as a unigram distribution would); the labels keep
 * the true tokens. The model must then predict the next word without trusting the previous one, from the
 * context and the pictures.
 *
 * Why a multimodal model wants this: a caption is spoken word by word, so "A purple" is followed by the kind the
 * LM has most often read after "purple". A colour×kind pair that no training picture shows is then never said,
 * even when the vision tower sees it (the held-out pairs of issue #17). With noising, "purple" also stands in
 * front of every other kind in training inputs, and the kind has to come from the picture.
 *
 * Not in tfjs, transformers.js or the HF Trainer (whose `neftune_noise_alpha` perturbs embeddings, not tokens),
 * hence written here. Pure: the batch passed in is not changed.
 */
import { IGNORE_INDEX } from '../constants.js';
import type { Batch } from '../data/collate.js';
import { Rng } from '../util/rng.js';

/** A copy of `batch` whose response tokens are each replaced with probability `p` (labels unchanged). */
export function noiseResponseTokens(batch: Batch, p: number, rng: Rng): Batch {
  if (!(p >= 0 && p <= 1)) throw new Error(`token noise must be a probability in [0, 1] (got ${p})`);
  const pool: number[] = [];
  batch.labels.forEach((row, r) => row.forEach((l, t) => l !== IGNORE_INDEX && pool.push(batch.inputIds[r][t])));
  if (p === 0 || pool.length === 0) return batch;
  // The model embeds the layout's token ids; inputIds is rewritten too so the batch stays self-consistent.
  const { seqLen } = batch.layout;
  const tokenIds = batch.layout.tokenIds.slice();
  const inputIds = batch.inputIds.map((row, r) =>
    row.map((id, t) => {
      if (batch.labels[r][t] === IGNORE_INDEX || rng.next() >= p) return id;
      const drawn = pool[Math.floor(rng.next() * pool.length)];
      tokenIds[r * seqLen + t] = drawn;
      return drawn;
    }),
  );
  return { ...batch, inputIds, layout: { ...batch.layout, tokenIds } };
}

/**
 * The generator for one micro-batch: a function of (seed, step, micro-batch) only, so a resumed run draws the
 * same noise as an uninterrupted one without keeping generator state in the checkpoint.
 */
export function tokenNoiseRng(seed: number, step: number, micro: number): Rng {
  return new Rng((Math.imul(seed + 0x9e3779b9, 0x85ebca6b) ^ Math.imul(step + 1, 0xc2b2ae35) ^ Math.imul(micro + 1, 0x27d4eb2f)) >>> 0);
}
