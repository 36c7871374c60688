/**
 * Giving memory back after a burst. A burst of large requests leaves megabytes of dead strings (data URLs),
 * decoded pixels and parsed bodies in the heaps of the main thread and the media workers; V8 collects a heap only
 * when that heap allocates again, so an idle server would keep its burst-sized RSS indefinitely. Once a thread has
 * been idle for a moment, a full collection hands that memory back.
 *
 * The collector is reached the way Jest's leak detection does it (`--expose-gc` set at run time, `gc` read from a
 * fresh context), so no command-line flag is needed; where that fails, nothing is released early.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

let gc: (() => void) | null | undefined;

function collector(): (() => void) | null {
  if (gc === undefined) {
    try {
      setFlagsFromString('--expose-gc');
      gc = runInNewContext('gc') as () => void;
    } catch {
      gc = null;
    }
  }
  return gc;
}

/**
 * Returns `touch()`: call it whenever the thread does work; `idleMs` after the last call, one full collection runs,
 * then `afterCollect` (the server passes glibc's trim there: what the collection freed goes back to the system).
 * The timer never keeps the process alive.
 */
export function releaseWhenIdle(idleMs = 1000, afterCollect?: (() => void) | null): () => void {
  let timer: NodeJS.Timeout | null = null;
  return () => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = null;
      collector()?.();
      afterCollect?.();
    }, idleMs);
    timer.unref();
  };
}
