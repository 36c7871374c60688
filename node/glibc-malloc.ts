/**
 * Making glibc give back what a burst of requests took. A burst of large requests (data URLs, decoded photos,
 * parsed bodies) is freed into glibc's arenas — the main heap and one per worker thread — and glibc keeps it:
 * - its mmap threshold rises to the largest block freed so far (up to 32 MiB), so after the first photo every
 *   decoded image and request body comes from an arena instead of its own mapping, and an arena returns only the
 *   free space at its top, above a trim threshold that rose with it (a worker thread's arena keeps up to 64 MiB);
 * - a single live block above a hole pins the hole.
 * Measured (bench/RESULTS.md, "Hostile clients"): 35 s after a burst of 8 × 4 photos of 3000×2000 the server held
 * 1.96× its idle RSS, 320 MB of it in the worker threads' arenas.
 *
 * The fix is two calls glibc offers and Node does not bind (made through koffi, see glibc.ts):
 * - {@link fixMallocThresholds}, when `serve` starts: `mallopt` fixes the mmap and trim thresholds at glibc's
 *   initial 128 KiB (what `MALLOC_MMAP_THRESHOLD_=131072 MALLOC_TRIM_THRESHOLD_=131072` would do, but those are
 *   read only when a process starts, so a user would have to remember them, or `serve` re-execute itself). Large
 *   blocks get their own mapping, returned when freed; arenas trim their top as it frees. The cost: a large block
 *   is mapped afresh each time (page faults) instead of reused; tensors of the default wasm backend live in the
 *   wasm heap and are not affected.
 * - {@link mallocTrim}, once the server is idle: `malloc_trim(0)` returns every whole free page inside every arena
 *   (the holes), which no threshold reaches.
 * Where there is no glibc (musl, macOS, Windows) or koffi does not load, both are no-ops and the server works the
 * same, holding more memory after bursts.
 */
import { libc } from './glibc.js';

/** glibc's `mallopt` parameters (malloc.h). */
const M_TRIM_THRESHOLD = -1;
const M_MMAP_THRESHOLD = -3;
/** glibc's initial (and documented default) mmap threshold; the trim threshold is set to the same. */
export const FIXED_THRESHOLD_BYTES = 128 * 1024;

/** `malloc_trim(0)` of the C library as a function, or null where it cannot be called. */
export function mallocTrim(): (() => void) | null {
  const c = libc();
  return c ? () => void c.mallocTrim(0) : null;
}

/**
 * Fixes glibc's mmap and trim thresholds at {@link FIXED_THRESHOLD_BYTES} for the whole process, unless the user
 * set either through the environment (then theirs stand). Returns whether it did.
 */
export function fixMallocThresholds(env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.MALLOC_MMAP_THRESHOLD_ !== undefined || env.MALLOC_TRIM_THRESHOLD_ !== undefined || /malloc\.(mmap|trim)_threshold/.test(env.GLIBC_TUNABLES ?? '')) return false;
  const c = libc();
  if (!c) return false;
  return c.mallopt(M_MMAP_THRESHOLD, FIXED_THRESHOLD_BYTES) === 1 && c.mallopt(M_TRIM_THRESHOLD, FIXED_THRESHOLD_BYTES) === 1;
}
