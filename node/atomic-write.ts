/**
 * Crash-safe writes for checkpoints: a reader (or a resumed training run) sees either the old file/folder or the
 * complete new one, never a half-written one. Data goes to a temporary sibling, is fsynced, then renamed into
 * place (rename is atomic within a filesystem, which a sibling guarantees).
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm, stat, unlink } from 'node:fs/promises';
import * as path from 'node:path';

function tempName(target: string, tag: string): string {
  return `${target}.${tag}-${process.pid}-${randomBytes(6).toString('hex')}`;
}

async function writeAndSync(file: string, data: Uint8Array | string): Promise<void> {
  const handle = await open(file, 'wx'); // 'x': never clobber, even a temp name that somehow exists
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** fsync a directory so a rename in it survives a crash; best effort (Windows cannot fsync directories). */
async function syncDir(dir: string): Promise<void> {
  try {
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // Durability is best effort where the OS cannot fsync directories; atomicity does not depend on it.
  }
}

/** Write `data` to `file` atomically: `file.tmp-<pid>-<random>` in the same folder, fsync, rename over `file`. */
export async function writeFileAtomic(file: string, data: Uint8Array | string): Promise<void> {
  const tmp = tempName(file, 'tmp');
  try {
    await writeAndSync(tmp, data);
    await rename(tmp, file);
  } catch (e) {
    await unlink(tmp).catch(() => {});
    throw e;
  }
  await syncDir(path.dirname(path.resolve(file)));
}

function checkRelative(name: string, dir: string): string[] {
  const parts = name.split('/');
  const plain = name !== '' && !name.startsWith('/') && !name.includes('\\');
  if (!plain || parts.some((p) => p === '' || p === '.' || p === '..')) {
    throw new Error(`writeDirAtomic(${dir}): refusing file name "${name}" (must be a plain relative '/'-path)`);
  }
  return parts;
}

/**
 * A file too big to hold in memory: called with the path to create, it writes (and fsyncs) the file itself,
 * for example by streaming tensors into it (`node/io/safetensors-write.ts`).
 */
export type FileWriter = (fullPath: string) => Promise<void>;

/**
 * Write a whole folder atomically: every file (names are '/'-separated relative paths) goes into
 * `dir.tmp-<pid>-<random>`, is fsynced, then the folder is renamed to `dir`. An existing `dir` is first renamed
 * aside and removed only after the new one is in place (if the swap fails, it is put back). Between the two
 * renames `dir` is briefly absent — never partial.
 */
export async function writeDirAtomic(dir: string, files: Map<string, Uint8Array | string | FileWriter>): Promise<void> {
  const target = path.resolve(dir);
  const parts = new Map([...files.keys()].map((name) => [name, checkRelative(name, dir)])); // fail before writing
  const tmp = tempName(target, 'tmp');
  await mkdir(path.dirname(target), { recursive: true });
  try {
    await mkdir(tmp);
    for (const [name, data] of files) {
      const full = path.join(tmp, ...parts.get(name)!);
      await mkdir(path.dirname(full), { recursive: true });
      if (typeof data === 'function') await data(full);
      else await writeAndSync(full, data);
    }
    await syncDir(tmp);
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }

  const existed = await stat(target).then(
    () => true,
    () => false,
  );
  const old = tempName(target, 'old');
  try {
    if (existed) await rename(target, old);
    try {
      await rename(tmp, target);
    } catch (e) {
      if (existed) await rename(old, target).catch(() => {});
      throw e;
    }
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
  await syncDir(path.dirname(target));
  if (existed) await rm(old, { recursive: true, force: true });
}
