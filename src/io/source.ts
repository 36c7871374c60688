/**
 * Where model files come from. A model is a set of named files (config.json, model.safetensors, …); a
 * `ModelSource` reads them from a local folder (Node, see `node/folder-source.ts`), a URL (anywhere), or
 * memory (tests, browser file pickers). Everything in `src/` reads through this interface so the same loader
 * runs in Node and in the browser.
 */

export interface ModelSource {
  /** Human-readable location, used in error messages ("/models/tiny", "https://…/tiny"). */
  readonly location: string;
  /** The bytes of `name` (a path relative to the model root, '/'-separated). Throws a clear error if missing. */
  readFile(name: string): Promise<Uint8Array>;
  /** Whether `name` exists. */
  exists(name: string): Promise<boolean>;
  /**
   * Optional: bytes `[start, end)` of `name` without reading the rest. Sources that have it let big checkpoints
   * load tensor by tensor (no whole-file copy in memory); the others are read whole.
   */
  readRange?(name: string, start: number, end: number): Promise<Uint8Array>;
  /** Optional (with `readRange`): the size of `name` in bytes. */
  size?(name: string): Promise<number>;
}

/** Error raised for a missing or unreadable model file; names the file and the source. */
export class ModelFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ModelFileError';
  }
}

export async function readText(source: ModelSource, name: string): Promise<string> {
  return new TextDecoder().decode(await source.readFile(name));
}

export async function readJSON<T = unknown>(source: ModelSource, name: string): Promise<T> {
  const text = await readText(source, name);
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw new ModelFileError(`${joinLocation(source.location, name)} is not valid JSON: ${(e as Error).message}`);
  }
}

export function joinLocation(location: string, name: string): string {
  return location.endsWith('/') ? location + name : `${location}/${name}`;
}

/** Files held in memory: tests, and the browser's directory picker (File objects read up front). */
export class MemorySource implements ModelSource {
  readonly files: Map<string, Uint8Array>;
  constructor(
    /** Text files (config.json, tokenizer.json) may be given as strings; they are stored as UTF-8. */
    files: Map<string, Uint8Array | string> | Record<string, Uint8Array | string>,
    readonly location = 'memory:',
  ) {
    this.files = new Map();
    const entries = files instanceof Map ? [...files.entries()] : Object.entries(files);
    for (const [k, v] of entries) this.files.set(k, typeof v === 'string' ? new TextEncoder().encode(v) : v);
  }
  async readFile(name: string): Promise<Uint8Array> {
    const f = this.files.get(name);
    if (!f) throw new ModelFileError(`missing file ${joinLocation(this.location, name)}`);
    return f;
  }
  async exists(name: string): Promise<boolean> {
    return this.files.has(name);
  }
  async readRange(name: string, start: number, end: number): Promise<Uint8Array> {
    return checkedRange(await this.readFile(name), start, end, joinLocation(this.location, name)).slice();
  }
  async size(name: string): Promise<number> {
    return (await this.readFile(name)).byteLength;
  }
}

function checkedRange(bytes: Uint8Array, start: number, end: number, where: string): Uint8Array {
  if (!(0 <= start && start <= end && end <= bytes.byteLength)) {
    throw new ModelFileError(`${where}: byte range [${start}, ${end}) is outside the file (${bytes.byteLength} bytes)`);
  }
  return bytes.subarray(start, end);
}

/** Files under an http(s) base URL (a static file server, or a Hugging Face `resolve/main/` URL). */
export class UrlSource implements ModelSource {
  readonly location: string;
  constructor(
    baseUrl: string,
    private readonly fetchFn: typeof fetch = (...a) => fetch(...a),
  ) {
    this.location = baseUrl.replace(/\/+$/, '');
  }
  async readFile(name: string): Promise<Uint8Array> {
    const url = joinLocation(this.location, name);
    let res: Response;
    try {
      res = await this.fetchFn(url);
    } catch (e) {
      throw new ModelFileError(`could not fetch ${url}: ${(e as Error).message}`);
    }
    if (!res.ok) throw new ModelFileError(`could not fetch ${url}: HTTP ${res.status}`);
    return new Uint8Array(await res.arrayBuffer());
  }
  async exists(name: string): Promise<boolean> {
    try {
      const res = await this.fetchFn(joinLocation(this.location, name), { method: 'HEAD' });
      return res.ok;
    } catch {
      return false;
    }
  }
  /** Whole files from servers that ignore Range, kept so each is downloaded once. */
  private readonly whole = new Map<string, Promise<Uint8Array>>();

  /**
   * An HTTP Range request. A server that ignores Range answers 200 with the whole file: it is kept and later
   * ranges are cut from it, so each file is still downloaded once.
   */
  async readRange(name: string, start: number, end: number): Promise<Uint8Array> {
    const url = joinLocation(this.location, name);
    if (end === start) return new Uint8Array(0);
    const cached = this.whole.get(name);
    if (cached) return checkedRange(await cached, start, end, url).slice();
    let res: Response;
    try {
      res = await this.fetchFn(url, { headers: { Range: `bytes=${start}-${end - 1}` } });
    } catch (e) {
      throw new ModelFileError(`could not fetch ${url}: ${(e as Error).message}`);
    }
    if (!res.ok) throw new ModelFileError(`could not fetch ${url} (bytes ${start}-${end - 1}): HTTP ${res.status}`);
    const body = new Uint8Array(await res.arrayBuffer());
    if (res.status === 206) {
      if (body.byteLength !== end - start) throw new ModelFileError(`${url}: asked for ${end - start} bytes, got ${body.byteLength}`);
      return body;
    }
    this.whole.set(name, Promise.resolve(body));
    return checkedRange(body, start, end, url).slice();
  }
  async size(name: string): Promise<number> {
    const url = joinLocation(this.location, name);
    const res = await this.fetchFn(url, { method: 'HEAD' }).catch((e: Error) => {
      throw new ModelFileError(`could not fetch ${url}: ${e.message}`);
    });
    const len = Number(res.headers.get('content-length'));
    if (!res.ok || !Number.isFinite(len)) return (await this.readFile(name)).byteLength;
    return len;
  }
}

/** Opens a local path as a model source (Node: a folder reader). */
export type LocalSourceFactory = (path: string) => ModelSource;
let localSourceFactory: LocalSourceFactory | null = null;

/**
 * Node installs a folder reader here through `configurePlatform` (`src/platform.ts`), so
 * `resolveSource('/models/x')` works in Node while `src/` itself never imports `node:fs`. `null` removes it.
 */
export function setLocalSourceFactory(factory: LocalSourceFactory | null): void {
  localSourceFactory = factory;
}

/** Whether local paths can be opened here (Node registered a folder reader); false in the browser. */
export function hasLocalSources(): boolean {
  return localSourceFactory !== null;
}

/** A source from a URL, a local path (Node), or an existing source. */
export function resolveSource(where: string | ModelSource): ModelSource {
  if (typeof where !== 'string') return where;
  if (/^https?:\/\//i.test(where)) return new UrlSource(where);
  if (localSourceFactory) return localSourceFactory(where);
  // In the browser a relative path is a URL relative to the page.
  if (typeof location !== 'undefined' && typeof window !== 'undefined') {
    return new UrlSource(new URL(where, window.location.href).href);
  }
  throw new ModelFileError(
    `cannot open "${where}": local paths need the Node entry point (import from 'multi-token/node') or a URL`,
  );
}

/** A folder inside another source (an encoder stored in a checkpoint's subfolder). */
export class SubSource implements ModelSource {
  readonly location: string;
  private readonly prefix: string;
  constructor(
    private readonly parent: ModelSource,
    prefix: string,
  ) {
    const clean = prefix.replace(/^\.\/+/, '').replace(/\/+$/, '');
    if (clean.split('/').some((p) => p === '..')) throw new ModelFileError(`subfolder "${prefix}" may not contain ".."`);
    this.prefix = clean ? `${clean}/` : '';
    this.location = joinLocation(parent.location, clean);
  }
  readFile(name: string): Promise<Uint8Array> {
    return this.parent.readFile(this.prefix + name);
  }
  exists(name: string): Promise<boolean> {
    return this.parent.exists(this.prefix + name);
  }
  async readRange(name: string, start: number, end: number): Promise<Uint8Array> {
    if (this.parent.readRange) return this.parent.readRange(this.prefix + name, start, end);
    return checkedRange(await this.readFile(name), start, end, joinLocation(this.location, name)).slice();
  }
  async size(name: string): Promise<number> {
    if (this.parent.size) return this.parent.size(this.prefix + name);
    return (await this.readFile(name)).byteLength;
  }
}

/**
 * Resolves a location written in a checkpoint's config (an encoder path): URLs and absolute paths open on
 * their own; relative paths are subfolders of the checkpoint.
 */
export function resolveRelative(base: ModelSource, where: string, open: (w: string) => ModelSource = resolveSource): ModelSource {
  if (/^https?:\/\//i.test(where) || where.startsWith('/') || /^[A-Za-z]:[\\/]/.test(where)) return open(where);
  return new SubSource(base, where);
}
