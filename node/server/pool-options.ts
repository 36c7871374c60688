import type { Piscina } from 'piscina';

/**
 * Piscina options every worker pool of the server shares.
 *
 * `atomics: 'disabled'`: piscina's default (`sync`) parks an idle worker in `Atomics.wait`, where its event loop
 * does not run, so no timer fires between tasks. The media and JSON workers collect their heaps on a timer once
 * idle (memory-release.ts); parked, they never did, and each kept the last bodies and photos it handled (measured:
 * 80 MB in the JSON worker after a burst of 23 MB bodies; bench/RESULTS.md "Hostile clients"). Without atomics a
 * task is handed over by message port, which costs microseconds against tasks of milliseconds.
 */
export const POOL_OPTIONS = { atomics: 'disabled' } as const;

/**
 * The transfer list for handing `bytes` to a worker: its buffer when the view covers all of it (moved, not copied:
 * a photo's bytes or a large body, which the main thread no longer needs), else nothing (the view is copied; a
 * slice must not detach the buffer under its neighbours). A copy of a 12 MB body or photo cost the main thread
 * tens of milliseconds here, during which no other client was served.
 */
export function transferOf(bytes: Uint8Array): Transfer {
  const b = bytes.buffer;
  const list = b instanceof ArrayBuffer && bytes.byteOffset === 0 && bytes.byteLength === b.byteLength && b.byteLength > 0 ? [b] : [];
  // piscina types the list from MessagePort.postMessage's last overload (an options object in current @types/node);
  // at run time it passes this array as postMessage's transfer list.
  return list as unknown as Transfer;
}

type Transfer = NonNullable<Parameters<Piscina['run']>[1]>['transferList'];
