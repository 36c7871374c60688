/**
 * Resolving a request's modality items before it joins the queue: every URL, data URL and path an item
 * refers to is loaded (through the {@link MediaFetcher} rules) and replaced by its bytes. Doing this at
 * admission, outside the model's turn, means slow downloads never stall a running batch, a refused URL is
 * answered at once with the field that named it, and the model only ever sees bytes.
 */
import type { Modality } from '../../src/modality/modality.js';
import type { ChatRow } from '../../src/chat/encode-chat.js';
import { ApiError } from './errors.js';
import { MediaError, type MediaFamily, type MediaFetcher } from './media-fetch.js';

/** The media family of a modality (content-type checks, OpenAI part routing), from its kind or data key. */
export function modalityFamily(m: Modality): MediaFamily | 'vector' {
  const kind = String(m.toConfig().kind ?? '');
  const key = m.dataKey.toLowerCase();
  if (kind === 'vector' || key === 'vectors') return 'vector';
  if (kind.startsWith('vision') || key === 'images') return 'image';
  if (kind.startsWith('audio') || /audio|speech|sound/.test(key)) return 'audio';
  if (kind.startsWith('video') || key === 'videos') return 'video';
  if (kind.startsWith('document') || key === 'documents') return 'document';
  return 'any';
}

/** Strings that are references for every modality (documents take other strings as their text). */
const URL_LIKE = /^(https?|data|file):/i;
/** Bare base64, which audio items may be; never treated as a path. */
const BASE64 = /^[A-Za-z0-9+/\s]{16,}={0,2}$/;

/** Whether a string item of this family refers to something to load (else the modality reads it itself). */
function isReference(s: string, family: MediaFamily | 'vector'): boolean {
  if (URL_LIKE.test(s)) return true;
  if (family === 'image' || family === 'video') return true;
  if (family === 'audio') return !BASE64.test(s);
  return false;
}

/** Names an item in errors: `images[0]` (/generate) or the OpenAI part that carried it. */
export type ItemParam = (dataKey: string, index: number) => string;

/**
 * Replaces each item that refers to media (a URL, data URL or path string, or the seed's `{path}` / `{url}`
 * objects) with the loaded bytes, in place. Errors become 400s naming the item.
 */
export async function resolveRowMedia(
  row: ChatRow,
  modalities: readonly Modality[],
  fetcher: MediaFetcher,
  signal?: AbortSignal,
  param: ItemParam = (k, i) => `${k}[${i}]`,
): Promise<void> {
  const loads: Promise<void>[] = [];
  for (const m of modalities) {
    const items = row[m.dataKey];
    if (!Array.isArray(items)) continue;
    const family = modalityFamily(m);
    items.forEach((item: unknown, i) => {
      let ref: string | undefined;
      if (typeof item === 'string' && isReference(item, family)) ref = item;
      else if (item && typeof item === 'object' && !Array.isArray(item)) {
        const o = item as Record<string, unknown>;
        const r = typeof o.url === 'string' ? o.url : typeof o.path === 'string' ? o.path : undefined;
        // A video clip `{url|path, start_time, end_time}` keeps its window; only the source is loaded.
        const clip = family === 'video' && Object.keys(o).every((k) => ['url', 'path', 'start_time', 'end_time'].includes(k));
        if (r !== undefined && (Object.keys(o).length === 1 || clip)) ref = r;
      }
      if (ref === undefined) return;
      const window = item && typeof item === 'object' && Object.keys(item).length > 1 ? (item as Record<string, unknown>) : null;
      const where = param(m.dataKey, i);
      loads.push(
        fetcher.load(ref, family === 'vector' ? 'any' : family, signal).then(
          (bytes) => {
            items[i] = window ? { video: bytes, start_time: window.start_time, end_time: window.end_time } : bytes;
          },
          (e: unknown) => {
            // Anything that goes wrong loading an item is about that item (a MediaError says what; file
            // system surprises say their own message).
            throw new ApiError(400, `${where}: ${e instanceof MediaError ? e.message : `could not load the item: ${(e as Error).message}`}`, where);
          },
        ),
      );
    });
  }
  // allSettled first so no download is left running unobserved when one fails; then report the first error.
  const results = await Promise.allSettled(loads);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

/** Total number of modality items in a row (for `--max_items`). */
export function countItems(row: ChatRow, modalities: readonly Modality[]): number {
  let n = 0;
  for (const m of modalities) {
    const v = row[m.dataKey];
    if (Array.isArray(v)) n += v.length;
  }
  return n;
}
