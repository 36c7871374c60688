/**
 * Image items → transformers.js `RawImage`s, the same way in Node and in the browser. Decoding goes through
 * `RawImage.fromBlob` (sharp in Node, the browser's decoder on a page); paths and URLs are read by the caller's
 * `loadBytes` (Node: files under an allowed root, fetches with limits), so this file never touches the file
 * system or the network on its own.
 *
 * Accepted items: a `RawImage`; encoded bytes (`Uint8Array`, `ArrayBuffer`, `Blob`/`File`); a string — `data:`
 * URL, `http(s)://` URL or path — or `{path}` / `{url}`; decoded pixels `{data, width, height, channels}`
 * (channels 1, 3 or 4); and in the browser `ImageData`, a canvas, an `<img>`/`<video>` element, an
 * `ImageBitmap` or a `VideoFrame`.
 */
import type { RawImage } from '@huggingface/transformers';
import { type PreprocessContext } from '../modality/modality.js';
import { RowError } from '../util/row-error.js';
import { asBytes, loadItemBytes } from './item-bytes.js';

type Transformers = typeof import('@huggingface/transformers');
let transformers: Promise<Transformers> | null = null;

/**
 * transformers.js, imported on first use: it is large (ONNX runtime, every processor), and a program whose
 * modalities never see an image should not pay for loading it, in a browser bundle or at Node start-up.
 */
export function loadTransformers(): Promise<Transformers> {
  transformers ??= import('@huggingface/transformers');
  return transformers;
}

/** A browser image source that can be drawn onto a canvas. */
type Drawable = HTMLImageElement | HTMLVideoElement | ImageBitmap | SVGImageElement | VideoFrame;

/** Decoded pixels given directly. */
export interface PixelImage {
  data: Uint8Array | Uint8ClampedArray;
  width: number;
  height: number;
  channels: 1 | 3 | 4;
}

/** What an image item may be (see the file comment). */
export type ImageInput =
  | RawImage
  | Uint8Array
  | ArrayBuffer
  | Blob
  | string
  | { path: string }
  | { url: string }
  | PixelImage
  | ImageData
  | HTMLCanvasElement
  | OffscreenCanvas
  | Drawable;

/** What image loading may use besides the modality's own state. */
export interface ImageLoadContext extends PreprocessContext {
  /**
   * Fetches http(s) URLs when `loadBytes` is not given (a browser page may pass `fetch`). Node servers pass
   * `loadBytes` instead, which applies their size and host limits.
   */
  fetch?: (url: string) => Promise<Response>;
}

/** An error about one item: `row "id": images[1]: …` (a `RowError`) when the row is known, else `images[1]: …`. */
export function itemError(ctx: PreprocessContext | undefined, where: string, message: string): Error {
  return ctx?.rowId !== undefined ? new RowError(ctx.rowId, `${where}: ${message}`) : new Error(`${where}: ${message}`);
}

const isA = <T>(v: unknown, name: string): v is T => {
  const ctor = (globalThis as Record<string, unknown>)[name];
  return typeof ctor === 'function' && v instanceof (ctor as abstract new (...a: never[]) => unknown);
};

/** The bytes of a `data:` URL (base64 or percent-encoded). */
export function dataUrlBytes(url: string): Uint8Array {
  const comma = url.indexOf(',');
  if (!url.startsWith('data:') || comma < 0) throw new Error('malformed data URL (expected "data:[<type>][;base64],<data>")');
  const payload = url.slice(comma + 1);
  if (!/;base64$/i.test(url.slice(5, comma))) return new TextEncoder().encode(decodeURIComponent(payload));
  let bin: string;
  try {
    bin = atob(payload.replace(/\s+/g, ''));
  } catch {
    throw new Error('data URL has invalid base64');
  }
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** The bytes a string item refers to: a data URL directly; URLs and paths through `loadBytes` (or `fetch`). */
export async function referenceBytes(ref: string, ctx: ImageLoadContext | undefined, where: string): Promise<Uint8Array> {
  if (ref.startsWith('data:')) return dataUrlBytes(ref);
  if (!ctx?.loadBytes && ctx?.fetch && /^https?:\/\//i.test(ref)) {
    const res = await ctx.fetch(ref);
    if (!res.ok) throw new Error(`could not fetch ${ref}: HTTP ${res.status}`);
    return new Uint8Array(await res.arrayBuffer());
  }
  return loadItemBytes(ref, where, ctx);
}

/** Decodes encoded image bytes (PNG, JPEG, WebP, GIF…). */
export async function decodeImageBytes(bytes: Uint8Array): Promise<RawImage> {
  const { RawImage } = await loadTransformers();
  // Blob copies the view's bytes (respecting its offset, so pooled Node Buffers are fine).
  return RawImage.fromBlob(new Blob([bytes as Uint8Array<ArrayBuffer>]));
}

/** Draws a browser image source onto a canvas to read its pixels. */
function drawToCanvas(src: Drawable): OffscreenCanvas | HTMLCanvasElement {
  let w: number;
  let h: number;
  if (isA<HTMLImageElement>(src, 'HTMLImageElement')) [w, h] = [src.naturalWidth, src.naturalHeight];
  else if (isA<HTMLVideoElement>(src, 'HTMLVideoElement')) [w, h] = [src.videoWidth, src.videoHeight];
  else if (isA<VideoFrame>(src, 'VideoFrame')) [w, h] = [src.displayWidth, src.displayHeight];
  else if (isA<SVGImageElement>(src, 'SVGImageElement')) [w, h] = [src.width.baseVal.value, src.height.baseVal.value];
  else [w, h] = [(src as ImageBitmap).width, (src as ImageBitmap).height];
  if (!(w > 0 && h > 0)) throw new Error('image element has no pixels yet (not loaded?)');
  const canvas =
    typeof OffscreenCanvas === 'function' ? new OffscreenCanvas(w, h) : Object.assign(document.createElement('canvas'), { width: w, height: h });
  const c2d = canvas.getContext('2d') as CanvasRenderingContext2D | OffscreenCanvasRenderingContext2D | null;
  if (!c2d) throw new Error('no 2D canvas context available');
  c2d.drawImage(src, 0, 0, w, h);
  return canvas;
}

async function toRawImage(value: unknown, ctx: ImageLoadContext | undefined, where: string, T: Transformers): Promise<RawImage> {
  const { RawImage } = T;
  if (value instanceof RawImage) return value;
  let bytes = asBytes(value);
  if (typeof value === 'string') bytes = await referenceBytes(value, ctx, where);
  else if (isA<Blob>(value, 'Blob')) bytes = new Uint8Array(await value.arrayBuffer());
  else if (isA<ImageData>(value, 'ImageData')) return new RawImage(value.data, value.width, value.height, 4);
  else if (isA<HTMLCanvasElement>(value, 'HTMLCanvasElement') || isA<OffscreenCanvas>(value, 'OffscreenCanvas')) return RawImage.fromCanvas(value);
  else if (['HTMLImageElement', 'HTMLVideoElement', 'ImageBitmap', 'SVGImageElement', 'VideoFrame'].some((n) => isA(value, n))) {
    return RawImage.fromCanvas(drawToCanvas(value as Drawable));
  } else if (!bytes && typeof value === 'object' && value !== null) {
    const o = value as Record<string, unknown>;
    const ref = typeof o.path === 'string' ? o.path : typeof o.url === 'string' ? o.url : undefined;
    if (ref !== undefined) bytes = await referenceBytes(ref, ctx, where);
    else {
      const { data, width, height, channels } = o;
      if ((data instanceof Uint8Array || data instanceof Uint8ClampedArray) && typeof width === 'number' && typeof height === 'number' && (channels === 1 || channels === 3 || channels === 4)) {
        if (data.length !== width * height * channels) throw new Error(`${data.length} pixel bytes do not match ${width}×${height}×${channels}`);
        return new RawImage(new Uint8ClampedArray(data), width, height, channels);
      }
    }
  }
  if (!bytes) {
    const kind = value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value;
    throw new Error(`is ${kind}; an image must be a path or URL, a data URL, image bytes, a Blob, a RawImage, {data, width, height, channels} or a canvas/image element`);
  }
  try {
    return await decodeImageBytes(bytes);
  } catch (e) {
    throw new Error(`could not decode image (${bytes.length} bytes; corrupt or unsupported format): ${(e as Error).message}`);
  }
}

/**
 * Loads one image item. `where` names it in errors (`images[1]`); with `ctx.rowId` the error is a `RowError`
 * naming the row too. Decoding failures (corrupt or unsupported bytes) say so.
 */
export async function loadImage(value: unknown, ctx?: ImageLoadContext, where = 'image'): Promise<RawImage> {
  const T = await loadTransformers();
  try {
    return await toRawImage(value, ctx, where, T);
  } catch (e) {
    if (e instanceof RowError) throw e;
    const msg = (e as Error).message;
    // loadItemBytes already prefixes its label.
    throw itemError(ctx, where, msg.startsWith(`${where}: `) ? msg.slice(where.length + 2) : msg);
  }
}

/** Same as {@link loadImage} with the label first, for callers that build labels with `itemLabel`. */
export async function imageItem(item: unknown, label: string, ctx?: PreprocessContext): Promise<RawImage> {
  const T = await loadTransformers();
  try {
    return await toRawImage(item, ctx, label, T);
  } catch (e) {
    const msg = (e as Error).message;
    throw new Error(msg.startsWith(`${label}: `) ? msg : `${label}: ${msg}`);
  }
}
