/**
 * A pool of worker threads (piscina) that prepares request media — decoding, resizing, log-mel — so the thread
 * that answers HTTP and runs the model only ever copies finished values. Sized to the machine's cores by default.
 *
 * Every thread starts with the pool (one started on demand costs seconds: it loads sharp and transformers.js, and a
 * request would wait for it); a worker collects its garbage once it has been idle for a moment (memory-release.ts),
 * so the memory a burst of large images took comes back. sharp is loaded here, on the main thread, before
 * any worker: a native library opened and closed only by worker threads can be unloaded under another worker
 * (sharp's documented requirement for worker threads).
 */
import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import type { MediaResult, MediaTask } from './media-worker.js';
import { POOL_OPTIONS, transferOf } from './pool-options.js';

/** Pool settings. */
export interface MediaPoolOptions {
  /** Most worker threads. Default: the number of cores. */
  threads?: number;
  /** Threads kept alive when idle. Default: all of them. */
  minThreads?: number;
  /** An idle thread above `minThreads` exits after this long. Default 30 s. */
  idleTimeoutMs?: number;
}

/** How a worker file written in TypeScript is loaded when this process runs from source. */
function workerFile(): { filename: string; execArgv?: string[] } {
  const fromSource = import.meta.url.endsWith('.ts');
  const filename = new URL(fromSource ? './media-worker.ts' : './media-worker.js', import.meta.url).href;
  if (!fromSource) return { filename };
  // Tests run with `--import tsx` (inherited by workers); the CLI registers tsx in-process, which workers do not see.
  const hasLoader = process.execArgv.some((a) => a.includes('tsx'));
  return { filename, execArgv: hasLoader ? undefined : [...process.execArgv, '--import', import.meta.resolve('tsx')] };
}

/** The pool; {@link MediaPool.start} makes one with its threads loaded. */
export class MediaPool {
  private constructor(private readonly pool: Piscina) {}

  /** Starts the pool and waits until `minThreads` workers have loaded their modules. */
  static async start(opts: MediaPoolOptions = {}): Promise<MediaPool> {
    await import('sharp');
    const maxThreads = Math.max(1, opts.threads ?? availableParallelism());
    const minThreads = Math.min(maxThreads, Math.max(0, opts.minThreads ?? maxThreads));
    const pool = new Piscina({
      ...workerFile(),
      maxThreads,
      minThreads,
      idleTimeout: opts.idleTimeoutMs ?? 30_000,
      concurrentTasksPerWorker: 1,
      ...POOL_OPTIONS,
    });
    // A worker that dies (it cannot start, or crashes) fails its task; piscina replaces it. Without a listener
    // the 'error' event would end the process.
    pool.on('error', (e: unknown) => process.stderr.write(`[multi-token] media worker failed: ${(e as Error)?.stack ?? String(e)}\n`));
    await Promise.all(Array.from({ length: Math.max(1, minThreads) }, () => pool.run({ warm: true })));
    return new MediaPool(pool);
  }

  /**
   * Prepares one item on a worker; rejects with the worker's error (its message says what was wrong). With `move`
   * the item's bytes are moved to the worker when they own their buffer (see {@link transferOf}) instead of copied:
   * the caller must not read them again.
   */
  run(task: MediaTask, opts: { move?: boolean } = {}): Promise<MediaResult> {
    return this.pool.run(task, opts.move ? { transferList: transferOf(task.bytes) } : {}) as Promise<MediaResult>;
  }

  /** Threads now running, and items waiting for one (for /health). */
  stats(): { threads: number; queued: number } {
    return { threads: this.pool.threads.length, queued: this.pool.queueSize };
  }

  /** Ends every worker (items in flight are let finish by piscina's `close`). */
  async close(): Promise<void> {
    await this.pool.close();
  }
}
