/**
 * The browser's origin-private file system (OPFS): a folder tree only this site can see, kept across reloads
 * and never sent anywhere. Training runs keep their pictures and checkpoints here. These helpers hide the
 * handle-per-path-segment API behind paths like `runs/abc/checkpoint-4/config.json`.
 */
import { ModelFileError, joinLocation, type ModelSource } from '../../../src/io/source.js';

/** Directory iteration is in TypeScript's DOM.AsyncIterable lib, which this project does not load. */
type IterableDir = FileSystemDirectoryHandle & { entries(): AsyncIterable<[string, FileSystemHandle]> };

/** The OPFS root, or why there is none (old browsers; some private windows). */
export async function opfsRoot(): Promise<FileSystemDirectoryHandle> {
  if (typeof navigator === 'undefined' || typeof navigator.storage?.getDirectory !== 'function') {
    throw new Error('this browser has no origin-private file system (navigator.storage.getDirectory)');
  }
  return navigator.storage.getDirectory();
}

const segments = (path: string) => path.split('/').filter(Boolean);

/** The folder at `path` under `dir`; created when `create`, else null when missing. */
export async function folderAt(dir: FileSystemDirectoryHandle, path: string, create = false): Promise<FileSystemDirectoryHandle | null> {
  let d = dir;
  for (const s of segments(path)) {
    try {
      d = await d.getDirectoryHandle(s, { create });
    } catch (e) {
      if (!create && (e as DOMException).name === 'NotFoundError') return null;
      throw e;
    }
  }
  return d;
}

/** Writes one file (a path with folders); the browser commits a writable stream atomically on close. */
export async function writeFileAt(dir: FileSystemDirectoryHandle, path: string, data: Uint8Array | string): Promise<void> {
  const parts = segments(path);
  const folder = await folderAt(dir, parts.slice(0, -1).join('/'), true);
  const handle = await folder!.getFileHandle(parts[parts.length - 1], { create: true });
  if (typeof handle.createWritable !== 'function') throw new Error('this browser cannot write files in its origin-private file system');
  const w = await handle.createWritable();
  try {
    await w.write(typeof data === 'string' ? data : (data as Uint8Array<ArrayBuffer>));
    await w.close();
  } catch (e) {
    await w.abort().catch(() => {});
    throw e;
  }
}

/** The file at `path`, or null. */
export async function fileAt(dir: FileSystemDirectoryHandle, path: string): Promise<File | null> {
  const parts = segments(path);
  const folder = await folderAt(dir, parts.slice(0, -1).join('/'));
  if (!folder) return null;
  try {
    return await (await folder.getFileHandle(parts[parts.length - 1])).getFile();
  } catch (e) {
    if ((e as DOMException).name === 'NotFoundError' || (e as DOMException).name === 'TypeMismatchError') return null;
    throw e;
  }
}

/** Names of the entries of `dir`, with their kind. */
export async function listFolder(dir: FileSystemDirectoryHandle): Promise<{ name: string; kind: FileSystemHandleKind }[]> {
  const out: { name: string; kind: FileSystemHandleKind }[] = [];
  for await (const [name, h] of (dir as IterableDir).entries()) out.push({ name, kind: h.kind });
  return out;
}

/** Deletes `name` (a file or a whole folder) from `dir`; missing is fine. */
export async function removeEntry(dir: FileSystemDirectoryHandle, name: string): Promise<void> {
  try {
    await dir.removeEntry(name, { recursive: true });
  } catch (e) {
    if ((e as DOMException).name !== 'NotFoundError') throw e;
  }
}

/** A folder in OPFS as a `ModelSource`, so the library's loaders (weights, restore) read from it. */
export class OpfsSource implements ModelSource {
  constructor(
    private readonly dir: FileSystemDirectoryHandle,
    readonly location: string,
  ) {}

  async readFile(name: string): Promise<Uint8Array> {
    const f = await fileAt(this.dir, name);
    if (!f) throw new ModelFileError(`missing file ${joinLocation(this.location, name)}`);
    return new Uint8Array(await f.arrayBuffer());
  }

  async exists(name: string): Promise<boolean> {
    return (await fileAt(this.dir, name)) !== null;
  }
}
