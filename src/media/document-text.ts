/**
 * What a `documents` item is. The seed's schema says an item is "/path/to/data OR just the full document", and
 * its ImageBind modality tells text from files by the file extension; we decide the same way, stated exactly:
 *
 * - `{text: string}` → that text, always inline (use it when a document could look like a path).
 * - `{path: string}` / `{url: string}` → read through the environment's `loadBytes`.
 * - `Uint8Array` / `ArrayBuffer` → the UTF-8 bytes of a document.
 * - a string is a reference, read through `loadBytes`, when it is an `http(s)://`, `file://` or `data:` URL, or
 *   a single line (no line breaks, no surrounding spaces, at most 1024 characters) ending in a text-file
 *   extension (`.txt .md .markdown .rst .text .csv .tsv .json .jsonl .html .htm .xml .log .tex`);
 * - any other string is the document itself.
 *
 * Files are decoded as UTF-8 (a byte-order mark is dropped); markup is not stripped.
 */
import type { PreprocessContext } from '../modality/modality.js';
import { asBytes, loadItemBytes } from './item-bytes.js';
import { dataUrlBytes } from './image-input.js';

const TEXT_EXTENSIONS = ['txt', 'md', 'markdown', 'rst', 'text', 'csv', 'tsv', 'json', 'jsonl', 'html', 'htm', 'xml', 'log', 'tex'];
const EXTENSION_RE = new RegExp(`\\.(${TEXT_EXTENSIONS.join('|')})$`, 'i');

/** Whether a string item is read as a file reference (see the file comment for the rule). */
export function isDocumentReference(s: string): boolean {
  if (/^(https?|file):\/\//i.test(s) || s.startsWith('data:')) return true;
  return s.length <= 1024 && !/[\r\n]/.test(s) && s === s.trim() && EXTENSION_RE.test(s);
}

/** Reads a reference: `data:` URLs are decoded here, everything else goes to the environment's loader. */
async function readReference(ref: string, label: string, ctx?: PreprocessContext): Promise<Uint8Array> {
  if (!ref.startsWith('data:')) return loadItemBytes(ref, label, ctx);
  try {
    return dataUrlBytes(ref);
  } catch (e) {
    throw new Error(`${label}: bad data URL: ${(e as Error).message}`);
  }
}

function decode(bytes: Uint8Array): string {
  return new TextDecoder('utf-8').decode(bytes).replace(/^\uFEFF/, '');
}

/** The text of one `documents` item; `label` (e.g. `row "7": documents[0]`) starts every error. */
export async function documentText(item: unknown, label: string, ctx?: PreprocessContext): Promise<string> {
  if (typeof item === 'string') return isDocumentReference(item) ? decode(await readReference(item, label, ctx)) : item;
  const bytes = asBytes(item);
  if (bytes) return decode(bytes);
  if (typeof item === 'object' && item !== null) {
    const o = item as Record<string, unknown>;
    if (typeof o.text === 'string') return o.text;
    const ref = typeof o.path === 'string' ? o.path : typeof o.url === 'string' ? o.url : undefined;
    if (ref !== undefined) return decode(await readReference(ref, label, ctx));
  }
  throw new Error(`${label}: a document must be text, a path or URL, {text}, {path} or {url}, or bytes`);
}
