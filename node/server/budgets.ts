/**
 * What one request may cost, checked before any work is done on it. Every limit is read from what a request
 * states about itself — the length of its strings, an image's header, a WAV/MP3's headers — never by doing the
 * work first, so a request over budget is refused in microseconds with a 4xx that names the item and the limit
 * (and the `serve` flag that sets it).
 *
 * Per item: decoded pixels (and, for modalities that pad to a square, the padded square), aspect ratio, pixels
 * after the CLIP resize, seconds of audio, characters of a document. Per request: total pixels, total characters
 * of text, and a prompt that cannot fit the context — known from its character count before tokenizing, since
 * no token stands for more characters than the longest string in the vocabulary.
 */
import type { Modality } from '../../src/modality/modality.js';
import type { ChatRow } from '../../src/chat/encode-chat.js';
import { clipResizeSize, type ClipPreprocessorConfig } from '../../src/modality/vision-clip/clip-preprocess.js';
import { VisionClipModality } from '../../src/modality/vision-clip/vision-clip.js';
import { VideoClipModality } from '../../src/modality/video/video-clip.js';
import { readImageHeader } from '../../src/media/image-header.js';
import { readAudioDuration } from '../../src/media/audio-duration.js';
import { ApiError } from './errors.js';
import { modalityFamily, type ItemParam } from './media-items.js';

/** The limits (flags of `multi-token serve` in brackets, defaults after them). */
export interface Budgets {
  /** Decoded pixels of one image or video frame; also the padded square of pad-to-square modalities [--max_image_pixels]. */
  maxImagePixels: number;
  /** Longest side over shortest side of an image that is not padded to a square [--max_aspect_ratio]. */
  maxAspectRatio: number;
  /** Pixels of an image after the encoder's resize (before the crop) [--max_resized_pixels]. */
  maxResizedPixels: number;
  /** Decoded pixels of all images of a request together [--max_request_pixels]. */
  maxRequestPixels: number;
  /** Seconds of one audio item [--max_audio_seconds]. */
  maxAudioSeconds: number;
  /** Characters of one document [--max_document_chars]. */
  maxDocumentChars: number;
  /** Characters of text in a request: message contents and documents together [--max_request_chars]. */
  maxRequestChars: number;
}

/** Defaults: room for a 24-megapixel photo, four of them a request, a 2-minute clip, a 50-page document. */
export const DEFAULT_BUDGETS: Budgets = {
  maxImagePixels: 25_000_000,
  maxAspectRatio: 20,
  maxResizedPixels: 4_194_304,
  maxRequestPixels: 100_000_000,
  maxAudioSeconds: 120,
  maxDocumentChars: 200_000,
  maxRequestChars: 1_000_000,
};

const fmt = (n: number) => n.toLocaleString('en-US');

/** What the prompt check needs to know about the model. */
export interface PromptLimits {
  /** The LM's context in tokens. */
  maxLength: number;
  /** Characters the longest token covers (see `ChatTokenizer.longestTokenChars`); unknown → no early refusal. */
  longestTokenChars?: number;
}

function documentChars(item: unknown): number {
  if (typeof item === 'string') return item.length;
  if (item instanceof Uint8Array) return item.length; // UTF-8 bytes ≥ characters: an upper bound
  if (item && typeof item === 'object' && typeof (item as { text?: unknown }).text === 'string') return (item as { text: string }).text.length;
  return 0;
}

/**
 * Checks a request's text before it is tokenized: 422 when the messages have more characters than the context
 * could hold at the longest token's length, 413 when messages and documents exceed `maxRequestChars`, 413 for a
 * document over `maxDocumentChars`. Costs one pass over the string lengths.
 */
export function checkTextBudget(row: ChatRow, modalities: readonly Modality[], b: Budgets, limits: PromptLimits, param: ItemParam): void {
  let chars = 0;
  if (Array.isArray(row.messages)) for (const m of row.messages) if (m && typeof m.content === 'string') chars += m.content.length;
  const perToken = limits.longestTokenChars;
  if (perToken !== undefined && chars > limits.maxLength * perToken) {
    throw new ApiError(
      422,
      `the messages have ${fmt(chars)} characters; no token of this model stands for more than ${perToken}, so the prompt would be over ${fmt(Math.floor(chars / perToken))} tokens and the model's context is ${fmt(limits.maxLength)}`,
      'messages',
      'invalid_request_error',
      'context_length_exceeded',
    );
  }
  let total = chars;
  for (const m of modalities) {
    if (modalityFamily(m) !== 'document') continue;
    const items = row[m.dataKey];
    if (!Array.isArray(items)) continue;
    items.forEach((item, i) => {
      const n = documentChars(item);
      if (n > b.maxDocumentChars) {
        const where = param(m.dataKey, i);
        throw new ApiError(413, `${where} has ${fmt(n)} characters; this server accepts at most ${fmt(b.maxDocumentChars)} per document (--max_document_chars)`, where, 'invalid_request_error', 'item_too_large');
      }
      total += n;
    });
  }
  if (total > b.maxRequestChars) {
    throw new ApiError(413, `the request has ${fmt(total)} characters of text; this server accepts at most ${fmt(b.maxRequestChars)} (--max_request_chars)`, 'messages', 'invalid_request_error', 'request_too_large');
  }
}

/** Pixel geometry of an image item for a modality: what it decodes to, is padded to, and is resized to. */
function imageCost(m: Modality, width: number, height: number): { padded: number; resized: [number, number] | null; padsToSquare: boolean } {
  let config: ClipPreprocessorConfig | null = null;
  let pad = false;
  if (m instanceof VisionClipModality) {
    config = m.processor.config;
    pad = m.options.padToSquare ?? false;
  } else if (m instanceof VideoClipModality) config = m.processor.config;
  const [w, h] = pad ? [Math.max(width, height), Math.max(width, height)] : [width, height];
  return { padded: w * h, resized: config && config.do_resize ? clipResizeSize(config, w, h) : null, padsToSquare: pad };
}

/** Checks one image's header against the per-item limits; returns its decoded pixels. */
function checkImage(m: Modality, bytes: Uint8Array, where: string, b: Budgets): number {
  const head = readImageHeader(bytes);
  if (!head) {
    throw new ApiError(400, `${where}: could not read the image's size from its header (not an image, or a format this server does not read: PNG, JPEG, GIF, WebP, BMP, TIFF, AVIF/HEIF, SVG with width/height or viewBox)`, where);
  }
  const { width: w, height: h } = head;
  const px = w * h;
  const what = `${where} is a ${w}×${h} ${head.type.toUpperCase()}`;
  if (px > b.maxImagePixels) {
    throw new ApiError(413, `${what} (${fmt(px)} pixels); this server decodes at most ${fmt(b.maxImagePixels)} pixels per image (--max_image_pixels)`, where, 'invalid_request_error', 'item_too_large');
  }
  const cost = imageCost(m, w, h);
  if (cost.padsToSquare) {
    if (cost.padded > b.maxImagePixels) {
      throw new ApiError(413, `${what}; padded to a square it would be ${fmt(cost.padded)} pixels, and this server allows at most ${fmt(b.maxImagePixels)} (--max_image_pixels)`, where, 'invalid_request_error', 'item_too_large');
    }
  } else if (Math.max(w, h) / Math.min(w, h) > b.maxAspectRatio) {
    const ratio = Math.max(w, h) / Math.min(w, h);
    throw new ApiError(400, `${what}: its aspect ratio is ${fmt(Math.round(ratio * 10) / 10)}:1; this server accepts at most ${b.maxAspectRatio}:1 (--max_aspect_ratio)`, where, 'invalid_request_error', 'item_too_large');
  }
  if (cost.resized) {
    const [rw, rh] = cost.resized;
    if (rw * rh > b.maxResizedPixels) {
      throw new ApiError(413, `${what}; the encoder's resize would make it ${rw}×${rh} (${fmt(rw * rh)} pixels), over this server's ${fmt(b.maxResizedPixels)} (--max_resized_pixels)`, where, 'invalid_request_error', 'item_too_large');
    }
  }
  return Math.max(px, cost.padded);
}

/** Bare base64 (an audio item form) → bytes, so its headers can be read; other strings are left alone. */
function base64Audio(s: string): Uint8Array | null {
  const t = s.replace(/\s+/g, '');
  if (t.length < 16 || t.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(t)) return null;
  return new Uint8Array(Buffer.from(t, 'base64'));
}

function checkAudio(item: unknown, where: string, b: Budgets): Uint8Array | null {
  let bytes: Uint8Array | null = item instanceof Uint8Array ? item : typeof item === 'string' ? base64Audio(item) : null;
  let seconds: number | null = null;
  if (bytes) {
    const d = readAudioDuration(bytes);
    if (d && 'error' in d) throw new ApiError(400, `${where}: ${d.error}`, where);
    if (d) seconds = d.seconds;
    else bytes = item instanceof Uint8Array ? item : null; // not WAV/MP3: the decoder answers
  } else if (item && typeof item === 'object' && 'array' in item) {
    const o = item as { array: unknown; sampling_rate: unknown };
    if (Array.isArray(o.array) && typeof o.sampling_rate === 'number' && o.sampling_rate > 0) seconds = o.array.length / o.sampling_rate;
  }
  if (seconds !== null && seconds > b.maxAudioSeconds) {
    throw new ApiError(413, `${where} is ${fmt(Math.round(seconds * 10) / 10)} s of audio; this server accepts at most ${fmt(b.maxAudioSeconds)} s per item (--max_audio_seconds)`, where, 'invalid_request_error', 'item_too_large');
  }
  return bytes;
}

/**
 * Checks every loaded media item of a row (after `resolveRowMedia` replaced references with bytes) against the
 * per-item limits and the request's pixel total. Bare base64 audio is replaced by its bytes. Throws ApiErrors
 * naming the item (`images[1]`, `messages[0].content[2].image_url.url`) and the flag that sets the limit.
 */
export function checkMediaBudgets(row: ChatRow, modalities: readonly Modality[], b: Budgets, param: ItemParam): void {
  let pixels = 0;
  for (const m of modalities) {
    const items = row[m.dataKey];
    if (!Array.isArray(items)) continue;
    const family = modalityFamily(m);
    items.forEach((item: unknown, i) => {
      const where = param(m.dataKey, i);
      if (family === 'image' && item instanceof Uint8Array) pixels += checkImage(m, item, where, b);
      else if (family === 'audio') {
        const bytes = checkAudio(item, where, b);
        if (bytes && bytes !== item) items[i] = bytes;
      }
      if (pixels > b.maxRequestPixels) {
        throw new ApiError(413, `the request's images have over ${fmt(pixels)} pixels together (${where} is where they pass the limit); this server accepts at most ${fmt(b.maxRequestPixels)} per request (--max_request_pixels)`, where, 'invalid_request_error', 'request_too_large');
      }
    });
  }
}
