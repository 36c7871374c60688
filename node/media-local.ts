/**
 * Loading modality items for trusted local use (the CLI, training): local paths (relative to a base folder),
 * `data:` URLs, and http(s) URLs with a timeout and size cap. The HTTP server uses the stricter loader in
 * `node/server/media-fetch.ts` instead.
 */
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';

export interface LocalLoaderOptions {
  /** Relative paths resolve here (the dataset's folder, or the working directory). */
  baseDir?: string;
  timeoutMs?: number;
  maxBytes?: number;
}

/** Decodes a `data:[mime][;base64],payload` URL. */
export function decodeDataUrl(ref: string): Uint8Array {
  const m = /^data:([^,]*?)(;base64)?,(.*)$/s.exec(ref);
  if (!m) throw new Error('malformed data: URL');
  return m[2] ? new Uint8Array(Buffer.from(m[3], 'base64')) : new TextEncoder().encode(decodeURIComponent(m[3]));
}

/** A `loadBytes` for `PreprocessContext`: paths, data URLs and http(s) URLs. */
export function localLoader(opts: LocalLoaderOptions = {}): (ref: string) => Promise<Uint8Array> {
  const maxBytes = opts.maxBytes ?? 512 * 1024 * 1024;
  return async (ref: string) => {
    if (ref.startsWith('data:')) return decodeDataUrl(ref);
    if (/^https?:\/\//i.test(ref)) {
      const res = await fetch(ref, { signal: AbortSignal.timeout(opts.timeoutMs ?? 60_000) });
      if (!res.ok) throw new Error(`HTTP ${res.status} from ${ref}`);
      const buf = new Uint8Array(await res.arrayBuffer());
      if (buf.length > maxBytes) throw new Error(`${ref} is larger than ${maxBytes} bytes`);
      return buf;
    }
    const file = ref.startsWith('file://') ? new URL(ref).pathname : path.resolve(opts.baseDir ?? process.cwd(), ref);
    try {
      const b = await readFile(file);
      return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
    } catch (e) {
      throw new Error(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  };
}
