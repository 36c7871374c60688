/**
 * Where the WebGPU engine's streamed loading reads weight files from in the page, without ever holding a file
 * in JS memory: HTTP range requests, a picked folder's Files, or copies kept in Cache Storage (written by
 * streaming the download to disk, read back as disk-backed Blobs).
 */
import { joinLocation, ModelFileError } from '../../src/io/source.js';
import { BlobWeightBytes, UrlWeightBytes, type WeightBytes } from '../../src/webgpu/weight-bytes.js';
import { CACHE_NAME } from './model-cache.js';
import type { PickedFolderSource } from './file-source.js';
import type { LoadProgress } from './model-loader.js';
import { countedBody } from './counted-body.js';

/** Weight bytes of a model at a URL: straight from the server, or through Cache Storage when `cacheKey` is set. */
export function urlWeightBytes(baseUrl: string, cacheKey: string | null, report: (p: LoadProgress) => void): WeightBytes {
  if (!cacheKey) return new UrlWeightBytes(baseUrl);
  const blobs = new Map<string, Promise<Blob>>();
  return new BlobWeightBytes(baseUrl, (name) => {
    let b = blobs.get(name);
    if (!b) blobs.set(name, (b = cachedBlob(joinLocation(baseUrl, name), cacheKey + name, name, report)));
    return b;
  });
}

/** The cached copy of `url` under `key`, downloading it to the cache first (streamed, counted) on a miss. */
async function cachedBlob(url: string, key: string, name: string, report: (p: LoadProgress) => void): Promise<Blob> {
  const cache = await caches.open(CACHE_NAME);
  const hit = await cache.match(key);
  if (hit) {
    report({ message: `${name}: from the browser cache` });
    return hit.blob();
  }
  const res = await fetch(url);
  if (!res.ok || !res.body) throw new ModelFileError(`could not fetch ${url}: HTTP ${res.status}`);
  const { body: counted, total } = countedBody(res, (loaded, total) => report({ file: { name: `${name} → browser cache`, loaded, total } }));
  await cache.put(key, new Response(counted, { headers: total ? { 'Content-Length': String(total) } : {} }));
  const stored = await cache.match(key);
  if (!stored) throw new ModelFileError(`${name} could not be kept in the browser cache`);
  return stored.blob();
}

/** Weight bytes of a picked folder (its Files), copied into Cache Storage too when `cacheKey` is set. */
export function folderWeightBytes(source: PickedFolderSource, cacheKey: string | null): WeightBytes {
  return new BlobWeightBytes(source.location, async (name) => {
    const file = await source.file(name);
    if (cacheKey) {
      const cache = await caches.open(CACHE_NAME);
      if (!(await cache.match(cacheKey + name))) await cache.put(cacheKey + name, new Response(file));
    }
    return file;
  });
}

/** Weight bytes of a picked folder kept in Cache Storage. */
export function cachedWeightBytes(location: string, cacheKey: string): WeightBytes {
  return new BlobWeightBytes(location, async (name) => {
    const hit = await (await caches.open(CACHE_NAME)).match(cacheKey + name);
    if (!hit) throw new ModelFileError(`${joinLocation(location, name)} is not in the browser cache; pick the folder again`);
    return hit.blob();
  });
}
