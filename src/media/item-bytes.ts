/**
 * Reading a dataset/request item that refers to a file (a path, an http(s) URL, a `data:` URL) through the
 * environment's loader, with errors that name the row and item.
 */
import type { PreprocessContext } from '../modality/modality.js';

/** `row "id": documents[2]` — the prefix every item error starts with. */
export function itemLabel(dataKey: string, index: number, ctx?: PreprocessContext): string {
  return `${ctx?.rowId !== undefined ? `row ${JSON.stringify(ctx.rowId)}: ` : ''}${dataKey}[${index}]`;
}

/**
 * The bytes `ref` points at, via `ctx.loadBytes` (Node reads allowed paths and fetches URLs; the browser
 * fetches). Without a loader the error says how to pass the data inline instead.
 */
export async function loadItemBytes(ref: string, label: string, ctx?: PreprocessContext): Promise<Uint8Array> {
  if (!ctx?.loadBytes) {
    throw new Error(`${label}: "${ref}" refers to a file, but no file loader is available here (pass the data inline)`);
  }
  try {
    return await ctx.loadBytes(ref);
  } catch (e) {
    throw new Error(`${label}: could not read "${ref}": ${(e as Error).message}`);
  }
}

/** A plain Uint8Array view of typed-array or ArrayBuffer input, or null for anything else. */
export function asBytes(v: unknown): Uint8Array | null {
  if (v instanceof Uint8Array) return v;
  if (v instanceof ArrayBuffer) return new Uint8Array(v);
  return null;
}
