/**
 * How modality items that refer to bytes (a path, a URL) are read when the caller gives no `loadBytes`.
 * Anywhere with `fetch` (browsers, Node ≥ 18) URLs and `data:` URLs work; the Node entry point replaces it
 * with a loader that also reads local paths. Servers always pass their own, stricter loader.
 */
export type LoadBytes = (ref: string) => Promise<Uint8Array>;

const fetchLoader: LoadBytes = async (ref) => {
  const res = await fetch(ref);
  if (!res.ok) throw new Error(`HTTP ${res.status} for ${ref}`);
  return new Uint8Array(await res.arrayBuffer());
};

let current: LoadBytes | null = typeof fetch === 'function' ? fetchLoader : null;

export function setDefaultLoadBytes(fn: LoadBytes | null): void {
  current = fn;
}

export function defaultLoadBytes(): LoadBytes | null {
  return current;
}
