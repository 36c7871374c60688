/**
 * The model's queue. One model, one batch at a time: requests wait in arrival order, and when the model is
 * free the oldest waiting request starts a batch, joined by up to `maxBatchSize - 1` later requests that can
 * share one `streamGenerate` call (same sampling settings, so the batch decodes under one set of options).
 * The oldest request always goes first, so nobody starves; a request whose settings differ just waits for
 * the next batch.
 *
 * A request that fails inside the batch before decoding starts (its image does not decode, its audio is
 * corrupt) is answered with its own error and the batch is retried without it, so one bad request never
 * fails the others. A request whose client disconnects is dropped from the queue at once, or, when running,
 * stops receiving text; a batch whose clients are all gone is aborted, which frees the model.
 */
import type { LMM } from '../../src/lmm/lmm.js';
import type { ChatRow } from '../../src/chat/encode-chat.js';
import { RowError } from '../../src/util/row-error.js';
import { streamGenerate, type LMMGenerateOptions } from '../../src/lmm/generate.js';
import { ApiError, ClientGoneError } from './errors.js';

/** Per-request generation settings (the batching key). */
export interface JobSettings {
  maxNewTokens: number;
  temperature: number;
  topP?: number;
  topK?: number;
  stop?: string[];
  seed?: number;
  repetitionPenalty?: number;
  /** Keep generating past end-of-sequence tokens (vLLM's `ignore_eos`; benchmarks). */
  ignoreEos?: boolean;
}

/** A finished request. */
export interface JobResult {
  text: string;
  finishReason: 'stop' | 'length';
  promptTokens: number;
  completionTokens: number;
}

/** What a route submits. */
export interface JobRequest {
  /** Unique; becomes the row id, so row errors can be traced back to the request. */
  id: string;
  row: ChatRow;
  settings: JobSettings;
  /** Prompt length (placeholders included), known from admission. */
  promptTokens: number;
  /** Aborted when the client goes away. */
  signal?: AbortSignal;
  /** Called once when the request's batch starts decoding (a stream may send its headers then). */
  onStart?: () => void;
  /** New text, as it is decoded. */
  onDelta?: (text: string) => void;
}

interface Job extends JobRequest {
  key: string;
  resolve: (r: JobResult) => void;
  reject: (e: unknown) => void;
  settled: boolean;
  text: string;
  count: number;
}

/** Scheduler limits. */
export interface SchedulerOptions {
  /** Most requests decoded together. Default 8. */
  maxBatchSize?: number;
  /** Most requests waiting (not running); more are refused with 429. Default 64. */
  maxQueue?: number;
  /** Item loader for paths the modalities resolve themselves (see media-items.ts). */
  loadBytes?: (ref: string) => Promise<Uint8Array>;
  /** Told about failures that are not the request's fault (the model or backend failed), for the log. */
  onError?: (err: unknown) => void;
}

/** Counters for /health and tests. */
export interface SchedulerStats {
  queued: number;
  running: number;
  completed: number;
  failed: number;
  aborted: number;
  batches: number;
}

/** Batches requests onto one LMM. */
export class Scheduler {
  private queue: Job[] = [];
  private running: Job[] = [];
  private busy = false;
  private reserved = 0;
  private closed = false;
  private batchAbort: AbortController | null = null;
  private readonly counts = { completed: 0, failed: 0, aborted: 0, batches: 0 };
  readonly maxBatchSize: number;
  readonly maxQueue: number;

  constructor(
    private readonly lmm: LMM,
    private readonly opts: SchedulerOptions = {},
  ) {
    this.maxBatchSize = Math.max(1, opts.maxBatchSize ?? 8);
    this.maxQueue = Math.max(0, opts.maxQueue ?? 64);
  }

  /** Queue length (places held by requests still loading media included), running batch size, counters. */
  stats(): SchedulerStats {
    return { queued: this.queue.length + this.reserved, running: this.running.length, ...this.counts };
  }

  /**
   * Holds a place in the queue for a request still being admitted (its media loading), so a flood of
   * requests is refused before the server spends memory and bandwidth on them. Pass the result to
   * {@link submit}, or call it to give the place back.
   * @throws ApiError 429 when the queue is full, 503 when shutting down.
   */
  reserve(): () => void {
    if (this.closed) throw shuttingDown();
    if (this.queue.length + this.reserved >= this.maxQueue) {
      throw new ApiError(429, `the server is busy (${this.queue.length + this.reserved} requests waiting); retry later`);
    }
    this.reserved++;
    let held = true;
    return () => {
      if (held) this.reserved--;
      held = false;
    };
  }

  /**
   * Queues a request whose place was reserved with {@link reserve}; resolves with its result. Rejects with
   * {@link ClientGoneError} when its signal aborts.
   */
  submit(req: JobRequest, release: () => void): Promise<JobResult> {
    release();
    if (this.closed) return Promise.reject(shuttingDown());
    if (req.signal?.aborted) return Promise.reject(new ClientGoneError());
    return new Promise<JobResult>((resolve, reject) => {
      const job: Job = { ...req, key: batchKey(req.settings), resolve, reject, settled: false, text: '', count: 0 };
      req.signal?.addEventListener('abort', () => this.abort(job), { once: true });
      this.queue.push(job);
      this.pump();
    });
  }

  /** Refuses new work, fails waiting requests with 503 and stops the running batch. */
  close(): void {
    this.closed = true;
    for (const j of this.queue.splice(0)) this.settle(j, { err: shuttingDown() });
    this.batchAbort?.abort();
  }

  private abort(job: Job): void {
    if (job.settled) return;
    this.counts.aborted++;
    const qi = this.queue.indexOf(job);
    if (qi >= 0) this.queue.splice(qi, 1);
    this.settle(job, { err: new ClientGoneError() });
    // The batch is only worth finishing while someone is still listening.
    if (this.running.length > 0 && this.running.every((j) => j.settled)) this.batchAbort?.abort();
  }

  private settle(job: Job, outcome: { ok: JobResult } | { err: unknown }): void {
    if (job.settled) return;
    job.settled = true;
    if ('ok' in outcome) {
      this.counts.completed++;
      job.resolve(outcome.ok);
    } else {
      if (!(outcome.err instanceof ClientGoneError)) this.counts.failed++;
      job.reject(outcome.err);
    }
  }

  private pump(): void {
    if (this.busy || this.queue.length === 0) return;
    this.busy = true;
    const head = this.queue.shift()!;
    const batch = [head];
    for (let i = 0; i < this.queue.length && batch.length < this.maxBatchSize; ) {
      if (this.queue[i]!.key === head.key) batch.push(this.queue.splice(i, 1)[0]!);
      else i++;
    }
    this.counts.batches++;
    this.runBatch(batch)
      .catch(() => {})
      .finally(() => {
        this.running = [];
        this.batchAbort = null;
        this.busy = false;
        // Let the event loop answer the finished requests before the next batch takes the CPU.
        setImmediate(() => this.pump());
      });
  }

  private async runBatch(jobs: Job[]): Promise<void> {
    let pending = jobs.filter((j) => !j.settled);
    while (pending.length > 0) {
      this.running = pending;
      const ctl = new AbortController();
      this.batchAbort = ctl;
      let started = false;
      try {
        await this.decode(pending, ctl.signal, () => (started = true));
        return;
      } catch (e) {
        if (!started && e instanceof RowError && pending.length > 1) {
          // One request's items failed in preprocessing: answer it and retry the others without it.
          const bad = pending.find((j) => j.id === e.rowId);
          if (bad) {
            this.settle(bad, { err: e });
            pending = pending.filter((j) => j !== bad && !j.settled);
            continue;
          }
        }
        if (!started && pending.length > 1) {
          // An error we cannot pin on one request: run each alone so only the guilty one fails.
          for (const j of pending) if (!j.settled) await this.runBatch([j]);
          return;
        }
        if (!(e instanceof RowError)) this.opts.onError?.(e);
        for (const j of pending) this.settle(j, { err: e });
        return;
      }
    }
  }

  private async decode(jobs: Job[], signal: AbortSignal, onStarted: () => void): Promise<void> {
    const s = jobs[0]!.settings;
    const opts: LMMGenerateOptions = {
      maxNewTokens: s.maxNewTokens,
      temperature: s.temperature,
      topP: s.topP,
      topK: s.topK,
      stop: s.stop,
      seed: s.seed,
      repetitionPenalty: s.repetitionPenalty,
      stopTokenIds: s.ignoreEos ? [] : undefined,
      preprocess: this.opts.loadBytes ? { loadBytes: this.opts.loadBytes } : undefined,
    };
    const it = streamGenerate(this.lmm, jobs.map((j) => ({ ...j.row, id: j.id })), opts);
    const done = jobs.map(() => false);
    let first = true;
    for (;;) {
      const r = await it.next();
      if (r.done) break;
      if (first) {
        first = false;
        onStarted();
        for (const j of jobs) if (!j.settled) j.onStart?.();
      }
      const { deltas, finishReasons } = r.value;
      jobs.forEach((j, i) => {
        if (done[i]) return;
        // Each step gives every unfinished row one token: this is the request's completion-token count.
        j.count++;
        if (j.settled) return;
        if (deltas[i]) {
          j.text += deltas[i];
          j.onDelta?.(deltas[i]!);
        }
        const reason = finishReasons[i];
        if (reason) {
          // Answer as soon as this request is done, not when the batch's longest answer is.
          done[i] = true;
          this.settle(j, { ok: this.result(j, reason) });
        }
      });
      // A decode step on wasm/cpu finishes without ever returning to the event loop; give it a turn so new
      // requests are admitted (and join the next batch), streamed text is flushed and disconnects are seen.
      await new Promise((r) => setImmediate(r));
      if (signal.aborted) {
        // Stopping at a step boundary through return() runs the generators' cleanup (KV cache, embeddings);
        // we do not hand `signal` to streamGenerate, whose own check can fire mid-step.
        await it.return([]);
        break;
      }
    }
    // Requests still open here were cut off by a shutdown (when everyone left, all are settled already).
    for (const j of jobs) this.settle(j, this.closed ? { err: shuttingDown() } : { ok: this.result(j, 'length') });
  }

  private result(j: Job, finishReason: 'stop' | 'length'): JobResult {
    return { text: j.text, finishReason, promptTokens: j.promptTokens, completionTokens: j.count };
  }
}

function shuttingDown(): ApiError {
  return new ApiError(503, 'the server is shutting down', undefined, 'service_unavailable');
}

/** Requests batch together only when they decode under identical options. */
function batchKey(s: JobSettings): string {
  // A seeded sampled request must not share the sampler's random stream with others: it would not reproduce.
  if (s.seed !== undefined && s.temperature > 0) return `solo:${Math.random()}`;
  return JSON.stringify([s.maxNewTokens, s.temperature, s.topP ?? 1, s.topK ?? 0, s.stop ?? [], s.repetitionPenalty ?? 1, !!s.ignoreEos, s.seed ?? 0]);
}
