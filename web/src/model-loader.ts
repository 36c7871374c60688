/**
 * Loading a model into the page: from a URL (the bundled demo model is one), a picked folder, or the browser
 * cache, reporting each file read and download progress, through Cache Storage when the user allows it.
 */
import { UrlSource, type ModelSource } from '../../src/io/source.js';
import { loadLMM } from '../../src/lmm/load.js';
import { hubResolveBase, parseHubId } from '../../src/io/hub-id.js';
import type { LMM } from '../../src/lmm/lmm.js';
import { CachedSource, cacheAvailable, cacheOnlySource, pickedCacheKey, urlCacheKey, type CacheStats } from './model-cache.js';
import type { PickedFolderSource } from './file-source.js';
import type { GpuLMM } from '../../src/webgpu/gpu-lmm.js';
import { maybeLoadGpuLMM, type GpuLoadOptions } from './gpu-loader.js';
import { countedBody } from './counted-body.js';

/** Where to load from. */
export type ModelChoice =
  | { kind: 'url'; url: string }
  | { kind: 'folder'; source: PickedFolderSource }
  | { kind: 'cached'; key: string; location: string };

/** Progress of one load. */
export interface LoadProgress {
  /** A line for the log: a loader message or a file read. */
  message?: string;
  /** Bytes of the file being downloaded so far, and its size when the server says. */
  file?: { name: string; loaded: number; total: number };
}

/** A loaded model and how the load went. */
export interface LoadedModel {
  /** The tfjs model, or one whose LM runs on the WebGPU engine (quantized checkpoints; gpu-loader.ts). */
  lmm: LMM | GpuLMM;
  /** GPU memory the WebGPU engine holds for the LM (null on the tfjs path). */
  gpuBytes: number | null;
  location: string;
  /** Where its files are read from (again, e.g. for the training panel's download). */
  source: ModelSource;
  ms: number;
  /** Bytes read, whatever the origin. */
  bytes: number;
  /** null when caching was off or unavailable. */
  cache: CacheStats | null;
  /** Set when the cache could not be written (quota): the model loaded, the next load will not be faster. */
  cacheWarning: string | null;
}

/** A fetch that counts each body's bytes as they arrive (countedBody). HEAD requests and bodiless responses pass through. */
function progressFetch(onBytes: (url: string, loaded: number, total: number) => void): typeof fetch {
  return async (input, init) => {
    const res = await fetch(input, init);
    if (!res.body || init?.method === 'HEAD' || !res.ok) return res;
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const { body: counted } = countedBody(res, (loaded, total) => onBytes(url, loaded, total));
    return new Response(counted, { status: res.status, statusText: res.statusText, headers: res.headers });
  };
}

/** Reports every file read with its size, and counts bytes. */
class ReportingSource implements ModelSource {
  bytes = 0;
  constructor(
    private readonly inner: ModelSource,
    private readonly report: (p: LoadProgress) => void,
  ) {}
  get location(): string {
    return this.inner.location;
  }
  async readFile(name: string): Promise<Uint8Array> {
    const b = await this.inner.readFile(name);
    this.bytes += b.length;
    this.report({ message: `read ${name} (${formatBytes(b.length)})` });
    return b;
  }
  exists(name: string): Promise<boolean> {
    return this.inner.exists(name);
  }
}

/**
 * Loads a model and, when `useCache` is set and the page can cache, stores its files so the next load is
 * served from the browser. Errors name the file and location at fault (they come from the library).
 */
export async function loadModel(
  choice: ModelChoice,
  opts: { useCache: boolean; onProgress: (p: LoadProgress) => void; gpu?: GpuLoadOptions },
): Promise<LoadedModel> {
  const t0 = performance.now();
  const report = opts.onProgress;
  let inner: ModelSource;
  let key: string;
  if (choice.kind === 'url') {
    // `org/name[@rev]` is a Hugging Face id (a relative path to a folder ends in '/' or starts with './').
    const id = parseHubId(choice.url);
    const base = urlCacheKey(id ? hubResolveBase(id) : choice.url);
    inner = new UrlSource(
      base,
      progressFetch((url, loaded, total) => report({ file: { name: url.slice(base.length), loaded, total } })),
    );
    key = base;
  } else if (choice.kind === 'folder') {
    inner = choice.source;
    key = pickedCacheKey(choice.source.folderName);
  } else {
    inner = cacheOnlySource(choice.location);
    key = choice.key;
  }
  const caching = (opts.useCache || choice.kind === 'cached') && cacheAvailable();
  const cached = caching ? await CachedSource.open(inner, key) : null;
  if (cached?.stats.complete) report({ message: 'found a complete copy in the browser cache' });
  const reading = new ReportingSource(cached ?? inner, report);
  const gpu = await maybeLoadGpuLMM(
    { choice, reading, baseUrl: choice.kind === 'url' ? key : null, cacheKey: key, caching, report },
    opts.gpu ?? { engine: 'auto', dtype: 'auto' },
  );
  const lmm = gpu ?? (await loadLMM(reading, { onProgress: (message) => report({ message }) }));
  await cached?.commit();
  return {
    lmm,
    gpuBytes: gpu ? gpu.gpuBytes : null,
    location: inner.location,
    source: cached ?? inner,
    ms: performance.now() - t0,
    bytes: reading.bytes,
    cache: cached ? { ...cached.stats } : null,
    cacheWarning: cached?.writeError ?? null,
  };
}

/** `1.2 MB`, `340 KB`, `12 B`. */
export function formatBytes(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} GB`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} MB`;
  if (n >= 1e3) return `${Math.round(n / 1e3)} KB`;
  return `${n} B`;
}
