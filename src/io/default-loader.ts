/**
 * How modality items that refer to bytes (a path, a URL) are read when the caller gives no `loadBytes`.
 * Anywhere with `fetch` (browsers, Node ≥ 18) URLs and `data:` URLs work; the Node platform replaces it
 * (`configurePlatform({ loadBytes })`) with a loader that also reads local paths. Servers always pass their
 * own, stricter loader.
 */
export type LoadBytes = (ref: string) => Promise<Uint8Array>;

const fetchLoader: LoadBytes = async (ref) => {
  const res = await fetch(ref);
  if (!res.ok) throw new Error(`HTTP ${res.status} for ${ref}`);
  return new Uint8Array(await res.arrayBuffer());
};

/** The isomorphic default: the fetch loader wherever `fetch` exists. */
export const DEFAULT_LOAD_BYTES: LoadBytes | null = typeof fetch === 'function' ? fetchLoader : null;

let current: LoadBytes | null = DEFAULT_LOAD_BYTES;

/** Installs the loader; only `configurePlatform` (src/platform.ts) calls it. */
export function setDefaultLoadBytes(fn: LoadBytes | null): void {
  current = fn;
}

export function defaultLoadBytes(): LoadBytes | null {
  return current;
}
