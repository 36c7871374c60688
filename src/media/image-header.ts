/**
 * An image's size read from its header, without decoding a pixel: PNG IHDR, JPEG SOF, GIF and WebP/BMP headers,
 * TIFF IFDs, AVIF/HEIF boxes, ICO directories, and for SVG the root element's `width`/`height` (or `viewBox`) —
 * the size it would be rasterized at. A server checks its pixel budget against this before any work, so an image
 * that would decode to gigabytes is refused for the cost of reading a few bytes.
 *
 * Parsing is `image-size`'s (maintained, pure JS, works in Node and the browser). Its SVG lengths in `in`/`cm`/`pt`
 * use 96 px per inch while sharp rasterizes at 72, so an SVG is never smaller than reported here.
 */
import { imageSize } from 'image-size';

/** Width and height in pixels as decoded (before EXIF rotation, which swaps them but keeps the count). */
export interface ImageHeader {
  width: number;
  height: number;
  /** `png`, `jpg`, `gif`, `webp`, `svg`, `bmp`, `tiff`, `heif`, … */
  type: string;
}

/** The image's header size, or null when the bytes are not an image whose size can be read. */
export function readImageHeader(bytes: Uint8Array): ImageHeader | null {
  try {
    const s = imageSize(bytes);
    const { width, height } = s;
    if (!(Number.isFinite(width) && Number.isFinite(height) && width > 0 && height > 0)) return null;
    return { width, height, type: s.type ?? 'unknown' };
  } catch {
    return null;
  }
}
