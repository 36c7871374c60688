/**
 * The HTTP server around one loaded LMM (fastify): the seed's `POST /generate`, the OpenAI-compatible
 * `/v1/chat/completions` and `/v1/models`, `GET /health`, and optionally the demo page's static files.
 *
 * Every failure is a JSON error in OpenAI's shape with a status that says what went wrong (errors.ts); the
 * request limits (body size, items, completion length, queue length) are the server's options, and media
 * loading follows media-fetch.ts. Tests build it in-process with {@link createServer} and listen on port 0.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { stat } from 'node:fs/promises';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { tf } from '../../src/tf.js';
import type { LMM } from '../../src/lmm/lmm.js';
import type { ServeContext } from './admission.js';
import { ApiError, ClientGoneError, sendError, toApiError } from './errors.js';
import { DEFAULT_BUDGETS, type Budgets } from './budgets.js';
import { clientErrorHandler } from './client-errors.js';
import { registerJsonParser } from './json-body.js';
import { releaseWhenIdle } from './memory-release.js';
import { mallocTrim } from '../glibc-malloc.js';
import { MediaPool } from './media-pool.js';
import { recipeFor } from './media-recipes.js';
import { MediaFetcher } from './media-fetch.js';
import { registerGenerateRoute } from './routes-generate.js';
import { registerOpenAIRoutes } from './routes-openai.js';
import { AJV_OPTIONS } from './schemas.js';
import { Scheduler } from './scheduler.js';
import { registerStatic } from './static.js';

/** Everything the server needs besides the model's weights; defaults in brackets. */
export interface ServerOptions {
  lmm: LMM;
  /** Name for /v1/models and responses. ['multi-token'] */
  modelName?: string;
  /** Default completion length. [128] */
  maxNewTokens?: number;
  /** Default sampling temperature (0 = greedy). [0.01, the seed's] */
  temperature?: number;
  /** Largest `max_tokens` a request may ask for. [2048] */
  maxTokensCap?: number;
  /** Request body cap in bytes; larger bodies get 413. [32 MiB] */
  maxBodyBytes?: number;
  /** Most modality items per request. [16] */
  maxItems?: number;
  /** Most requests decoded together. [8] */
  maxBatchSize?: number;
  /** Most requests waiting; more get 429. [64] */
  maxQueue?: number;
  /** Require `Authorization: Bearer <apiKey>` on the API routes. */
  apiKey?: string;
  /** Folder that local item paths resolve under; none = local paths refused. */
  mediaRoot?: string;
  /** Allow URLs that resolve to loopback/private/link-local/metadata addresses. [false] */
  allowPrivateUrls?: boolean;
  /** Deadline for fetching one URL. [10 s] */
  fetchTimeoutMs?: number;
  /** Largest media item (download, file or data URL). [20 MiB] */
  maxMediaBytes?: number;
  /** Serve this folder's files at `/` (the demo page). */
  webRoot?: string;
  /** Extra folders served under URL prefixes beside `webRoot` (e.g. the demo model at `/models/demo/`). */
  staticMounts?: { prefix: string; dir: string }[];
  /** Per-item and per-request limits checked before any work (budgets.ts); missing fields take the defaults. */
  budgets?: Partial<Budgets>;
  /** Worker threads preparing media (decode, resize, log-mel); 0 = on the model's thread. [the number of cores] */
  mediaWorkers?: number;
  /** A client must have sent its request's headers within this long. [10 s] */
  headersTimeoutMs?: number;
  /** A client must have sent its whole request (headers and body) within this long. [60 s] */
  requestTimeoutMs?: number;
  /** Fastify's logger option. [false: nothing is logged but 5xx errors, which go to stderr with their stack] */
  logger?: FastifyServerOptions['logger'];
}

/** A built server: the fastify app plus its queue. */
export interface ServerHandle {
  app: FastifyInstance;
  scheduler: Scheduler;
  /** Starts listening; resolves with the base URL (`http://127.0.0.1:7860`). */
  listen(opts: { host?: string; port?: number }): Promise<string>;
  /** Stops accepting requests, fails queued ones (503) and closes the server. */
  close(): Promise<void>;
}

const API_PATHS: Record<string, string[]> = {
  '/generate': ['POST'],
  '/v1/chat/completions': ['POST'],
  '/v1/models': ['GET', 'HEAD'],
  '/health': ['GET', 'HEAD'],
};

/**
 * Process memory for /health, in MB: RSS, the main thread's JS heap, and (on wasm) the WebAssembly heap, which
 * grows to the largest batch served and cannot shrink.
 */
function memoryStats(): { rss_mb: number; heap_used_mb: number; external_mb: number; wasm_heap_mb: number | null } {
  const m = process.memoryUsage();
  const mb = (b: number) => Math.round(b / 104857.6) / 10;
  const wasm = (tf.backend() as { wasm?: { HEAPU8?: Uint8Array } } | undefined)?.wasm?.HEAPU8?.length;
  return { rss_mb: mb(m.rss), heap_used_mb: mb(m.heapUsed), external_mb: mb(m.external), wasm_heap_mb: wasm ? mb(wasm) : null };
}

/** A constant-time comparison of the presented key (hashes first, so lengths leak nothing either). */
function keyMatches(presented: string, expected: string): boolean {
  const h = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(h(presented), h(expected));
}

/** Builds the server (not yet listening). */
export async function createServer(opts: ServerOptions): Promise<ServerHandle> {
  const { lmm } = opts;
  const headersTimeout = opts.headersTimeoutMs ?? 10_000;
  const requestTimeout = Math.max(headersTimeout, opts.requestTimeoutMs ?? 60_000);
  const app = Fastify({
    logger: opts.logger ?? false,
    bodyLimit: opts.maxBodyBytes ?? 32 * 1024 * 1024,
    // Slow clients (a header a byte at a time, a body that never ends) are cut off; Node checks the deadlines
    // every `connectionsCheckingInterval`, so that is kept well under them.
    requestTimeout,
    http: { headersTimeout, connectionsCheckingInterval: Math.max(100, Math.min(1000, Math.floor(headersTimeout / 4))) },
    clientErrorHandler,
    ajv: { customOptions: AJV_OPTIONS },
    forceCloseConnections: true,
    return503OnClosing: true,
  });
  // Configuration mistakes fail at startup, not on the first request that needs them.
  if (opts.mediaRoot && !(await stat(opts.mediaRoot).catch(() => null))?.isDirectory()) {
    throw new Error(`--media_root ${opts.mediaRoot}: no such folder`);
  }
  const fetcher = new MediaFetcher({
    mediaRoot: opts.mediaRoot,
    allowPrivateUrls: opts.allowPrivateUrls,
    timeoutMs: opts.fetchTimeoutMs,
    maxBytes: opts.maxMediaBytes,
  });
  // 5xx are ours: always logged with their stack, through the logger when there is one, else on stderr.
  const logServerError = (err: unknown) => {
    if (opts.logger) app.log.error(err);
    else process.stderr.write(`[multi-token] server error: ${(err as Error)?.stack ?? String(err)}\n`);
  };
  const workers = opts.mediaWorkers ?? undefined;
  const pool = workers === 0 ? null : await MediaPool.start({ threads: workers });
  const scheduler = new Scheduler(lmm, {
    maxBatchSize: opts.maxBatchSize,
    maxQueue: opts.maxQueue,
    // Paths a modality resolves itself (e.g. audio strings that looked like base64) obey the same rules.
    loadBytes: (ref) => fetcher.load(ref),
    onError: logServerError,
  });
  const ctx: ServeContext = {
    lmm,
    scheduler,
    fetcher,
    modelName: opts.modelName ?? 'multi-token',
    maxNewTokens: opts.maxNewTokens ?? 128,
    temperature: opts.temperature ?? 0.01,
    maxTokensCap: opts.maxTokensCap ?? 2048,
    maxItems: opts.maxItems ?? 16,
    maxLength: lmm.lm.config.maxPositionEmbeddings,
    budgets: { ...DEFAULT_BUDGETS, ...Object.fromEntries(Object.entries(opts.budgets ?? {}).filter(([, v]) => v !== undefined)) },
    pool,
    recipes: lmm.modalities.map(recipeFor),
  };

  // JSON only: fastify's default text/plain parser would let a form post reach the schema check as a string.
  app.removeContentTypeParser('text/plain');
  const closeJsonParser = registerJsonParser(app);
  app.setErrorHandler((err, request, reply) => {
    if (err instanceof ClientGoneError) return reply.code(499).send();
    // Client mistakes are answered, not logged; a 500 is ours and goes to the log with its stack.
    if (toApiError(err).status >= 500) logServerError(err);
    return sendError(reply, err);
  });
  app.setNotFoundHandler((request, reply) => sendError(reply, new ApiError(404, `no route ${request.method} ${request.url.split('?')[0]}`)));

  // Request bodies (data URLs, long texts) die with their requests; collect them once traffic pauses, and give the
  // native memory they and the media workers' images held back to the system (one trim covers every thread's arena;
  // the workers collect their own heaps 0.5 s after their last item, before this runs).
  const touched = releaseWhenIdle(2000, mallocTrim());
  app.addHook('onResponse', async () => touched());

  app.addHook('onRequest', async (request, reply) => {
    if (!opts.apiKey) return;
    const p = request.url.split('?')[0]!;
    if (p !== '/generate' && !p.startsWith('/v1/')) return;
    const m = /^Bearer\s+(.+)$/i.exec(request.headers.authorization ?? '');
    if (!m || !keyMatches(m[1]!.trim(), opts.apiKey)) {
      return sendError(reply, new ApiError(401, m ? 'invalid API key' : 'missing API key (send "Authorization: Bearer <key>")'));
    }
  });

  app.get('/health', async () => ({
    status: 'ok',
    model: ctx.modelName,
    backend: tf.getBackend(),
    modalities: lmm.modalities.map((m) => ({ name: m.name, token: m.token, data_key: m.dataKey })),
    context_length: ctx.maxLength,
    max_batch_size: scheduler.maxBatchSize,
    ...scheduler.stats(),
    media_workers: pool?.stats() ?? null,
    memory: memoryStats(),
  }));
  registerGenerateRoute(app, ctx);
  registerOpenAIRoutes(app, ctx);
  // A known path with the wrong method is 405 (with Allow), not 404.
  for (const [url, allowed] of Object.entries(API_PATHS)) {
    const others = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'].filter((m) => !allowed.includes(m));
    app.route({
      method: others,
      url,
      handler: async (request, reply) => {
        reply.header('allow', allowed.join(', '));
        return sendError(reply, new ApiError(405, `${request.method} is not allowed on ${url} (use ${allowed.join(' or ')})`));
      },
    });
  }
  if (opts.webRoot) await registerStatic(app, opts.webRoot, opts.staticMounts);
  await app.ready();

  return {
    app,
    scheduler,
    async listen({ host = '127.0.0.1', port = 7860 }) {
      await app.listen({ host, port });
      const addr = app.server.address();
      const p = typeof addr === 'object' && addr ? addr.port : port;
      return `http://${host.includes(':') ? `[${host}]` : host}:${p}`;
    },
    async close() {
      scheduler.close();
      await app.close();
      await pool?.close();
      await closeJsonParser();
    },
  };
}
