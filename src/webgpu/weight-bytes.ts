/**
 * Byte access to weight files for streamed loading: a small range for a safetensors header, then the data as a
 * stream of chunks, so a model goes from its file into GPU buffers without ever being whole in JS memory.
 *
 * Implementations: a URL (one `Range: bytes=N-` request per header and per file; a server that ignores ranges
 * still works, its body is read and skipped up to N), a Blob/File (a picked folder, or a file kept in Cache
 * Storage: `Blob.slice` reads from disk), a `ModelSource` with byte ranges (`readRange`/`size`, e.g. Node's
 * FolderSource: read in chunks), and any other `ModelSource` (whole files; for tests and small models).
 */
import { ModelFileError, joinLocation, type ModelSource } from '../io/source.js';

/** Where streamed loading reads weight files from. */
export interface WeightBytes {
  readonly location: string;
  /** Size of file `name` in bytes. */
  size(name: string): Promise<number>;
  /** Bytes `[start, end)` of file `name` (short reads are an error). */
  readRange(name: string, start: number, end: number): Promise<Uint8Array>;
  /** Bytes `[start, end)` of file `name` as chunks, in order; each chunk is the caller's to keep or drop. */
  stream(name: string, start: number, end: number): AsyncIterable<Uint8Array>;
}

/** Reads at most `end - start` bytes of a body stream after skipping `skip` bytes; cancels the rest. */
async function* sliceStream(body: ReadableStream<Uint8Array>, skip: number, length: number, what: string): AsyncIterable<Uint8Array> {
  const reader = body.getReader();
  let toSkip = skip;
  let left = length;
  try {
    while (left > 0) {
      const { done, value } = await reader.read();
      if (done) throw new ModelFileError(`${what}: the body ended ${left} bytes early`);
      let chunk = value;
      if (toSkip > 0) {
        if (chunk.length <= toSkip) {
          toSkip -= chunk.length;
          continue;
        }
        chunk = chunk.subarray(toSkip);
        toSkip = 0;
      }
      if (chunk.length > left) chunk = chunk.subarray(0, left);
      left -= chunk.length;
      yield chunk;
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
}

async function collect(chunks: AsyncIterable<Uint8Array>, length: number, what: string): Promise<Uint8Array> {
  const out = new Uint8Array(length);
  let at = 0;
  for await (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  if (at !== length) throw new ModelFileError(`${what}: read ${at} bytes, expected ${length}`);
  return out;
}

/** Weight files under an http(s) base URL, read with HTTP range requests. */
export class UrlWeightBytes implements WeightBytes {
  readonly location: string;
  constructor(
    baseUrl: string,
    private readonly fetchFn: typeof fetch = (...a) => fetch(...a),
  ) {
    this.location = baseUrl.replace(/\/+$/, '');
  }

  /** From a HEAD request's Content-Length, else from the total in a one-byte range answer's Content-Range. */
  async size(name: string): Promise<number> {
    const url = joinLocation(this.location, name);
    try {
      const head = await this.fetchFn(url, { method: 'HEAD' });
      const len = Number(head.headers.get('content-length') ?? NaN);
      if (head.ok && Number.isSafeInteger(len) && len > 0) return len;
      const one = await this.fetchFn(url, { headers: { Range: 'bytes=0-0' } });
      await one.body?.cancel();
      const total = Number(/\/(\d+)$/.exec(one.headers.get('content-range') ?? '')?.[1] ?? NaN);
      if (one.status === 206 && Number.isSafeInteger(total)) return total;
      const whole = Number(one.headers.get('content-length') ?? NaN);
      if (one.status === 200 && Number.isSafeInteger(whole)) return whole;
    } catch (e) {
      throw new ModelFileError(`could not fetch ${url}: ${(e as Error).message}`);
    }
    throw new ModelFileError(`${url}: the server gives no size (Content-Length or Content-Range)`);
  }

  readRange(name: string, start: number, end: number): Promise<Uint8Array> {
    return collect(this.stream(name, start, end), end - start, `${joinLocation(this.location, name)} bytes ${start}-${end}`);
  }

  async *stream(name: string, start: number, end: number): AsyncIterable<Uint8Array> {
    if (end <= start) return;
    const url = joinLocation(this.location, name);
    let res: Response;
    try {
      res = await this.fetchFn(url, { headers: { Range: `bytes=${start}-${end - 1}` } });
    } catch (e) {
      throw new ModelFileError(`could not fetch ${url}: ${(e as Error).message}`);
    }
    if (!res.ok || !res.body) throw new ModelFileError(`could not fetch ${url}: HTTP ${res.status}`);
    // 206: exactly the range. 200: the server ignored Range; skip to `start` in the full body.
    const skip = res.status === 206 ? 0 : start;
    yield* sliceStream(res.body, skip, end - start, url);
  }
}

/** Weight files as Blobs (a picked folder's Files, or bodies kept in Cache Storage). */
export class BlobWeightBytes implements WeightBytes {
  constructor(
    readonly location: string,
    private readonly blobOf: (name: string) => Promise<Blob>,
    /** Bytes per chunk of {@link stream}. */
    private readonly chunkBytes = 8 << 20,
  ) {}

  async size(name: string): Promise<number> {
    return (await this.blobOf(name)).size;
  }

  async readRange(name: string, start: number, end: number): Promise<Uint8Array> {
    const blob = await this.blobOf(name);
    if (end > blob.size) throw new ModelFileError(`${joinLocation(this.location, name)} is ${blob.size} bytes, cannot read ${start}-${end}`);
    return new Uint8Array(await blob.slice(start, end).arrayBuffer());
  }

  async *stream(name: string, start: number, end: number): AsyncIterable<Uint8Array> {
    const blob = await this.blobOf(name);
    if (end > blob.size) throw new ModelFileError(`${joinLocation(this.location, name)} is ${blob.size} bytes, cannot read ${start}-${end}`);
    for (let at = start; at < end; at += this.chunkBytes) {
      yield new Uint8Array(await blob.slice(at, Math.min(end, at + this.chunkBytes)).arrayBuffer());
    }
  }
}

/**
 * Weight files through a plain `ModelSource`: each file is read whole once (so this does hold a file in
 * memory); for tests, memory sources and small models. Chunks are views of that one copy.
 */
export class SourceWeightBytes implements WeightBytes {
  private readonly files = new Map<string, Promise<Uint8Array>>();
  constructor(private readonly source: ModelSource, private readonly chunkBytes = 8 << 20) {}

  get location(): string {
    return this.source.location;
  }

  private file(name: string): Promise<Uint8Array> {
    let f = this.files.get(name);
    if (!f) this.files.set(name, (f = this.source.readFile(name)));
    return f;
  }

  async size(name: string): Promise<number> {
    return (await this.file(name)).length;
  }

  async readRange(name: string, start: number, end: number): Promise<Uint8Array> {
    const bytes = await this.file(name);
    if (end > bytes.length) throw new ModelFileError(`${joinLocation(this.location, name)} is ${bytes.length} bytes, cannot read ${start}-${end}`);
    return bytes.subarray(start, end);
  }

  async *stream(name: string, start: number, end: number): AsyncIterable<Uint8Array> {
    const bytes = await this.file(name);
    if (end > bytes.length) throw new ModelFileError(`${joinLocation(this.location, name)} is ${bytes.length} bytes, cannot read ${start}-${end}`);
    for (let at = start; at < end; at += this.chunkBytes) yield bytes.subarray(at, Math.min(end, at + this.chunkBytes));
  }
}

/** Weight files through a `ModelSource` that reads byte ranges (`readRange` and `size`), in chunks. */
export class RangeSourceWeightBytes implements WeightBytes {
  constructor(
    private readonly source: ModelSource & Required<Pick<ModelSource, 'readRange' | 'size'>>,
    private readonly chunkBytes = 8 << 20,
  ) {}

  get location(): string {
    return this.source.location;
  }

  size(name: string): Promise<number> {
    return this.source.size(name);
  }

  readRange(name: string, start: number, end: number): Promise<Uint8Array> {
    return this.source.readRange(name, start, end);
  }

  async *stream(name: string, start: number, end: number): AsyncIterable<Uint8Array> {
    for (let at = start; at < end; at += this.chunkBytes) yield await this.source.readRange(name, at, Math.min(end, at + this.chunkBytes));
  }
}

/** Whether `source` reads byte ranges (real-node's optional `readRange`/`size`). */
export function hasRanges(source: ModelSource): source is ModelSource & Required<Pick<ModelSource, 'readRange' | 'size'>> {
  return typeof source.readRange === 'function' && typeof source.size === 'function';
}
