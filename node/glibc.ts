/**
 * The few C library calls Node does not bind and the server needs (`malloc_trim`, thread priority), made through
 * koffi: a maintained FFI library that ships prebuilt binaries as per-platform packages, with no install script.
 * Where there is no glibc (musl, macOS, Windows) or koffi does not load, {@link libc} is null and every caller
 * carries on without the call.
 */
import { createRequire } from 'node:module';

/** The bound functions. */
export interface Libc {
  mallocTrim: (pad: number) => number;
  gettid: () => number;
  setpriority: (which: number, who: number, prio: number) => number;
}

let bound: Libc | null | undefined;

/** glibc's functions, or null where they cannot be called. Loaded once per thread. */
export function libc(): Libc | null {
  if (bound !== undefined) return bound;
  bound = null;
  const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header;
  if (process.platform !== 'linux' || !header?.glibcVersionRuntime) return bound;
  try {
    const koffi = createRequire(import.meta.url)('koffi') as typeof import('koffi');
    const c = koffi.load('libc.so.6');
    bound = {
      mallocTrim: c.func('int malloc_trim(size_t pad)') as Libc['mallocTrim'],
      gettid: c.func('int gettid(void)') as Libc['gettid'],
      setpriority: c.func('int setpriority(int which, unsigned int who, int prio)') as Libc['setpriority'],
    };
  } catch {
    bound = null;
  }
  return bound;
}
