/**
 * Model files from a local folder (Node). Names are model-relative, '/'-separated paths; a name that could
 * leave the folder (`..`, an absolute path, a drive letter, a backslash) is refused. Symlinks inside the folder
 * are followed on purpose: a Hugging Face cache snapshot is a folder of symlinks into `../../blobs/`.
 */
import { existsSync } from 'node:fs';
import { open, readFile, stat } from 'node:fs/promises';
import * as path from 'node:path';
import { ModelFileError, UrlSource, type ModelSource } from '../src/io/source.js';
import { parseHubId } from '../src/io/hub-id.js';
import { HubSource } from './hub/hub-source.js';

/** Reads `name` under a root directory with `node:fs/promises`. */
export class FolderSource implements ModelSource {
  /** The absolute root folder. */
  readonly location: string;

  constructor(root: string) {
    this.location = path.resolve(root);
  }

  /** Absolute path of `name`, or a `ModelFileError` if the name is not a plain path inside the root. */
  resolve(name: string): string {
    const bad = (why: string) => new ModelFileError(`refusing file name "${name}" for ${this.location}: ${why}`);
    if (name === '' || name.includes('\0')) throw bad('empty or contains NUL');
    if (name.includes('\\')) throw bad("use '/' as the separator");
    if (name.startsWith('/') || /^[A-Za-z]:/.test(name)) throw bad('absolute paths are not allowed');
    if (name.split('/').includes('..')) throw bad("'..' would leave the model folder");
    const full = path.resolve(this.location, ...name.split('/'));
    const rel = path.relative(this.location, full);
    if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) throw bad('not inside the model folder');
    return full;
  }

  async readFile(name: string): Promise<Uint8Array> {
    const full = this.resolve(name);
    try {
      const buf = await readFile(full);
      // A plain Uint8Array view (not a Buffer) so downstream code sees the same type in Node and the browser.
      return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') throw new ModelFileError(`missing file ${full}`);
      throw new ModelFileError(`could not read ${full}: ${(e as Error).message}`);
    }
  }

  /** Reads `[start, end)` into a fresh, unpooled buffer (so typed-array views of it are aligned). */
  async readRange(name: string, start: number, end: number): Promise<Uint8Array> {
    const full = this.resolve(name);
    const out = new Uint8Array(end - start);
    let fh;
    try {
      fh = await open(full, 'r');
      let done = 0;
      // One read returns at most ~2 GiB on Linux: loop until the range is filled.
      while (done < out.byteLength) {
        const { bytesRead } = await fh.read(out, done, Math.min(out.byteLength - done, 1 << 30), start + done);
        if (bytesRead === 0) throw new ModelFileError(`${full}: file ends before byte ${end} (truncated?)`);
        done += bytesRead;
      }
    } catch (e) {
      if (e instanceof ModelFileError) throw e;
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') throw new ModelFileError(`missing file ${full}`);
      throw new ModelFileError(`could not read ${full}: ${(e as Error).message}`);
    } finally {
      await fh?.close();
    }
    return out;
  }

  async size(name: string): Promise<number> {
    const full = this.resolve(name);
    try {
      return (await stat(full)).size;
    } catch (e) {
      throw new ModelFileError(`could not stat ${full}: ${(e as Error).message}`);
    }
  }

  async exists(name: string): Promise<boolean> {
    try {
      return (await stat(this.resolve(name))).isFile();
    } catch (e) {
      if (e instanceof ModelFileError) throw e;
      return false;
    }
  }
}

/**
 * A source for `where`: an existing source as is, an http(s) URL as a `UrlSource`, a Hugging Face id
 * (`org/name[@revision]`) that is not also a local path as a cached `HubSource`, anything else a folder. A local
 * folder wins over an id of the same spelling, as in Python's `from_pretrained`.
 */
export function openSource(where: string | ModelSource): ModelSource {
  if (typeof where !== 'string') return where;
  if (/^https?:\/\//i.test(where)) return new UrlSource(where);
  const id = parseHubId(where);
  if (id && !existsSync(where)) return new HubSource(id);
  return new FolderSource(where);
}
