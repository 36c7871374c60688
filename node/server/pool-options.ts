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
