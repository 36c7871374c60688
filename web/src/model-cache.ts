/**
 * Keeps a loaded model's files in Cache Storage so a reload does not download (or re-read) them.
 *
 * Each file is stored under `<key>/<name>`, where the key is the model's URL, or for a picked folder a made-up
 * same-origin URL (`/__multi-token-picked__/<folder>/`; the Cache API only takes http(s) keys, and nothing ever
 * fetches it). After a load succeeds, a manifest records which files exist and which the loader probed and did
 * not find; with it a reload answers `exists()` and `readFile()` from the cache alone, without one request.
 *
 * The cache is not revalidated: a model changed on the server keeps its cached copy until the user clears it
 * ({@link clearModelCache}; the page has a button).
 */
import { ModelFileError, joinLocation, type ModelSource } from '../../src/io/source.js';

/** The Cache Storage bucket; bump the version if the layout of entries changes. */
export const CACHE_NAME = 'multi-token-models-v1';
const MANIFEST = '.multi-token-manifest.json';
const PICKED_PREFIX = '/__multi-token-picked__/';

/** What a completed load wrote, read back on the next visit. */
export interface CacheManifest {
  /** What the user saw it as (a URL or `picked folder "x"`). */
  location: string;
  present: string[];
  absent: string[];
  bytes: number;
  savedAt: string;
}

/** How a load used the cache. */
export interface CacheStats {
  hits: number;
  misses: number;
  bytesFromCache: number;
  bytesFromSource: number;
  /** A manifest from an earlier complete load was found: nothing needed the network. */
  complete: boolean;
}

/** Whether this page can cache (Cache Storage exists only in secure contexts). */
export function cacheAvailable(): boolean {
  return typeof caches !== 'undefined';
}

/** The cache key of a model URL (made absolute, one trailing slash). */
export function urlCacheKey(url: string): string {
  return new URL(url.replace(/\/*$/, '/'), globalThis.location?.href).href;
}

/** The cache key of a picked folder. */
export function pickedCacheKey(folderName: string): string {
  return new URL(`${PICKED_PREFIX}${encodeURIComponent(folderName)}/`, globalThis.location.href).href;
}

/** Reads through the cache, filling it from `inner` on a miss. Call {@link commit} after a successful load. */
export class CachedSource implements ModelSource {
  readonly stats: CacheStats = { hits: 0, misses: 0, bytesFromCache: 0, bytesFromSource: 0, complete: false };
  private readonly present = new Set<string>();
  private readonly absent = new Set<string>();
  /** Why the last write failed (quota), shown once; the model still loads. */
  writeError: string | null = null;

  private constructor(
    private readonly inner: ModelSource,
    private readonly cache: Cache,
    readonly key: string,
    private readonly manifest: CacheManifest | null,
  ) {}

  get location(): string {
    return this.inner.location;
  }

  /** Opens the cache for `key` (see {@link urlCacheKey}, {@link pickedCacheKey}) in front of `inner`. */
  static async open(inner: ModelSource, key: string): Promise<CachedSource> {
    const cache = await caches.open(CACHE_NAME);
    const manifest = await readManifest(cache, key);
    const s = new CachedSource(inner, cache, key, manifest);
    s.stats.complete = manifest !== null;
    return s;
  }

  async readFile(name: string): Promise<Uint8Array> {
    const hit = await this.cache.match(this.key + name);
    if (hit) {
      const bytes = new Uint8Array(await hit.arrayBuffer());
      this.stats.hits++;
      this.stats.bytesFromCache += bytes.length;
      this.present.add(name);
      return bytes;
    }
    const bytes = await this.inner.readFile(name);
    this.stats.misses++;
    this.stats.bytesFromSource += bytes.length;
    this.present.add(name);
    await this.put(name, bytes);
    return bytes;
  }

  async exists(name: string): Promise<boolean> {
    if (this.manifest?.absent.includes(name)) return false;
    if (this.manifest?.present.includes(name) || (await this.cache.match(this.key + name))) return true;
    const found = await this.inner.exists(name);
    (found ? this.present : this.absent).add(name);
    return found;
  }

  /** Records what this load found, so the next load needs no requests. */
  async commit(): Promise<void> {
    if (this.writeError) return; // a partial cache must not claim to be complete
    const bytes = this.stats.bytesFromCache + this.stats.bytesFromSource;
    const m: CacheManifest = {
      location: this.inner.location,
      present: [...new Set([...(this.manifest?.present ?? []), ...this.present])].sort(),
      absent: [...new Set([...(this.manifest?.absent ?? []), ...this.absent])].filter((n) => !this.present.has(n)).sort(),
      bytes: Math.max(bytes, this.manifest?.bytes ?? 0),
      savedAt: this.manifest?.savedAt ?? new Date().toISOString(),
    };
    await this.put(MANIFEST, new TextEncoder().encode(JSON.stringify(m)));
  }

  private async put(name: string, bytes: Uint8Array): Promise<void> {
    if (this.writeError) return;
    try {
      await this.cache.put(this.key + name, new Response(bytes as Uint8Array<ArrayBuffer>, { headers: { 'Content-Length': String(bytes.length) } }));
    } catch (e) {
      // Usually the storage quota: keep loading from the source, just without caching.
      this.writeError = `could not cache ${name}: ${(e as Error).message}`;
    }
  }
}

async function readManifest(cache: Cache, key: string): Promise<CacheManifest | null> {
  const res = await cache.match(key + MANIFEST);
  if (!res) return null;
  try {
    return (await res.json()) as CacheManifest;
  } catch {
    return null; // a damaged manifest only costs the fast path
  }
}

/** A cached model the page can offer to reopen. */
export interface CachedModel {
  key: string;
  manifest: CacheManifest;
  /** Whether it came from a picked folder (it can only be reopened from the cache). */
  picked: boolean;
}

/** Every model with a complete cached copy. */
export async function listCachedModels(): Promise<CachedModel[]> {
  if (!cacheAvailable()) return [];
  const cache = await caches.open(CACHE_NAME);
  const out: CachedModel[] = [];
  for (const req of await cache.keys()) {
    if (!req.url.endsWith(MANIFEST)) continue;
    const key = req.url.slice(0, -MANIFEST.length);
    const manifest = await readManifest(cache, key);
    if (manifest) out.push({ key, manifest, picked: new URL(key).pathname.startsWith(PICKED_PREFIX) });
  }
  return out.sort((a, b) => b.manifest.savedAt.localeCompare(a.manifest.savedAt));
}

/** Deletes every cached model. */
export async function clearModelCache(): Promise<boolean> {
  return cacheAvailable() ? caches.delete(CACHE_NAME) : false;
}

/** The source behind a picked folder's cache entry: the files are only in the cache, so a miss says so. */
export function cacheOnlySource(location: string): ModelSource {
  return {
    location,
    readFile: async (name) => {
      throw new ModelFileError(`${joinLocation(location, name)} is not in the browser cache; pick the folder again`);
    },
    exists: async () => false,
  };
}
