/**
 * Making glibc give back what a burst of requests or a model load took. Freed memory goes back into glibc's
 * arenas — the main heap and one per thread — and an arena returns to the system only the free space at its top,
 * above a trim threshold that rises with the largest block freed (a worker thread's arena keeps up to 64 MiB); a
 * single live block above a hole pins the hole. `malloc_trim(0)` returns every whole free page inside every arena,
 * which no threshold reaches: the server calls it once idle (after its threads collected their heaps), the Node
 * engine while packing quantized weights.
 *
 * Measured (bench/RESULTS.md, "Hostile clients"): fixing the mmap and trim thresholds at 128 KiB with `mallopt`
 * as well (every large block its own mapping, returned when freed) gave back more after a burst (0.66× idle RSS
 * against 0.94× with glibc's defaults and the trim), but made every large block a fresh mapping whose pages fault
 * in again: a 12-MP photo took 1.9–2.8 s instead of 1.3–1.8 s and other clients' requests waited longer, so the
 * server keeps glibc's defaults. `MALLOC_MMAP_THRESHOLD_=131072 MALLOC_TRIM_THRESHOLD_=131072` in the environment
 * still select that trade.
 * Where there is no glibc (musl, macOS, Windows) or koffi does not load, this is a no-op.
 */
import { libc } from './glibc.js';

/** `malloc_trim(0)` of the C library as a function, or null where it cannot be called. */
export function mallocTrim(): (() => void) | null {
  const c = libc();
  return c ? () => void c.mallocTrim(0) : null;
}
