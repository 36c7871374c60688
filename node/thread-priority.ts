/**
 * Lowering the scheduling priority of the calling thread (a media or JSON worker). On Linux `nice` is per thread:
 * `setpriority(PRIO_PROCESS, gettid(), n)` changes only this one, and threads it starts later (libvips') inherit it.
 *
 * Why: on a machine with few cores, a worker decoding a 12-MP photo or parsing a 10 MB body shares the cores with
 * the model's onnxruntime threads, whose parallel matmuls wait for their slowest thread; at equal priority every
 * other client's answer slowed 3–4× (bench/RESULTS.md "Hostile clients"). Niced, the preparation of one large
 * request uses the cores the model leaves idle, and small requests keep their latency.
 */
import { libc } from './glibc.js';

const PRIO_PROCESS = 0;

/** Sets the calling thread's nice value to `nice` (0–19); returns whether it did. */
export function lowerThreadPriority(nice: number): boolean {
  const c = libc();
  if (!c) return false;
  try {
    return c.setpriority(PRIO_PROCESS, c.gettid(), nice) === 0;
  } catch {
    return false;
  }
}
