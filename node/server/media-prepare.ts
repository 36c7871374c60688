/**
 * Hands a request's loaded media items to the worker pool and puts the prepared values back in the row, so the
 * model's thread only copies them (see src/media/prepared-item.ts). Runs at admission, after the budgets passed:
 * a bad image is answered with a 400 naming it before the request joins the queue.
 */
import type { Modality } from '../../src/modality/modality.js';
import type { ChatRow } from '../../src/chat/encode-chat.js';
import { PreparedItem, type PreparedKind } from '../../src/media/prepared-item.js';
import type { Budgets } from './budgets.js';
import { ApiError } from './errors.js';
import type { MediaPool } from './media-pool.js';
import type { MediaRecipe } from './media-recipes.js';
import type { ItemParam } from './media-items.js';

const KIND: Record<MediaRecipe['kind'], PreparedKind> = { 'clip-image': 'clip-pixels', 'clip-video': 'clip-video', 'whisper-audio': 'whisper-features' };

/**
 * Prepares, on the pool, every item of `row` that is bytes and whose modality has a recipe (`recipes[i]` for
 * `modalities[i]`); replaces each with its {@link PreparedItem}. All items run (the pool queues them); the first
 * failure is reported, as a 400 naming the item.
 */
export async function prepareRowMedia(
  row: ChatRow,
  modalities: readonly Modality[],
  recipes: readonly (MediaRecipe | null)[],
  pool: MediaPool,
  budgets: Budgets,
  param: ItemParam,
): Promise<void> {
  const jobs: Promise<void>[] = [];
  modalities.forEach((m, mi) => {
    const recipe = recipes[mi];
    const items = row[m.dataKey];
    if (!recipe || !Array.isArray(items)) return;
    items.forEach((item: unknown, i) => {
      if (!(item instanceof Uint8Array)) return;
      const where = param(m.dataKey, i);
      jobs.push(
        // Moved to the worker, not copied: the item is replaced by its prepared values, or the request fails.
        pool.run({ recipe, bytes: item, maxPixels: budgets.maxImagePixels, maxSeconds: budgets.maxAudioSeconds, where }, { move: true }).then(
          (r) => {
            if ('tooLarge' in r) throw new ApiError(413, `${where} is ${r.tooLarge}`, where, 'invalid_request_error', 'item_too_large');
            items[i] = new PreparedItem(KIND[recipe.kind], r.data, r.count);
          },
          (e: unknown) => {
            const msg = (e as Error)?.message ?? String(e);
            throw new ApiError(400, msg.startsWith(`${where}: `) ? msg : `${where}: ${msg}`, where);
          },
        ),
      );
    });
  });
  const results = await Promise.allSettled(jobs);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}
