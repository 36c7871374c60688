/**
 * JSON request bodies. Small ones are parsed where they arrive; a large one (a data URL of a photo, a long
 * document) costs tens of milliseconds of `JSON.parse` per megabyte, during which no other client would be
 * answered, so it is parsed on a worker thread instead. Both refuse `__proto__` / `constructor.prototype` keys
 * (fastify's own protection) and answer malformed or empty bodies with a 400 naming the body.
 */
import type { FastifyInstance } from 'fastify';
import { Piscina } from 'piscina';
import sjson from 'secure-json-parse';
import type { IncomingMessage } from 'node:http';
import { ApiError } from './errors.js';
import { readBody } from './body-reader.js';
import { POOL_OPTIONS, transferOf } from './pool-options.js';

/** Bodies at least this large are parsed off the main thread. */
export const OFF_THREAD_JSON_BYTES = 512 * 1024;

const PARSE_OPTIONS = { protoAction: 'error', constructorAction: 'error' } as const;

function workerFile(): { filename: string; execArgv?: string[] } {
  const fromSource = import.meta.url.endsWith('.ts');
  const filename = new URL(fromSource ? './json-worker.ts' : './json-worker.js', import.meta.url).href;
  if (!fromSource || process.execArgv.some((a) => a.includes('tsx'))) return { filename };
  return { filename, execArgv: [...process.execArgv, '--import', import.meta.resolve('tsx')] };
}

function refusal(e: unknown): ApiError {
  if (e instanceof SyntaxError) return new ApiError(400, `malformed JSON body: ${e.message}`, 'body');
  return new ApiError(400, `the request body is refused: ${(e as Error)?.message ?? 'invalid JSON'}`, 'body');
}

/**
 * Replaces fastify's JSON parser on `app`. Returns a function that ends the parsing thread (call it when the
 * server closes).
 */
export function registerJsonParser(app: FastifyInstance): () => Promise<void> {
  // One thread is enough: parsing is fast, it just must not happen on the main thread. It is started (and its
  // module loaded) now: a thread started by the first large body would make that request wait seconds for it.
  const pool = new Piscina({ ...workerFile(), ...POOL_OPTIONS, minThreads: 1, maxThreads: 1 });
  pool.on('error', (e: unknown) => process.stderr.write(`[multi-token] JSON worker failed: ${(e as Error)?.stack ?? String(e)}\n`));
  pool.run(new TextEncoder().encode('{}')).catch(() => {});
  app.removeContentTypeParser('application/json');
  const limit = app.initialConfig.bodyLimit ?? 1024 * 1024;
  app.addContentTypeParser('application/json', async (_request: unknown, payload: IncomingMessage) => {
    const body = await readBody(payload, limit);
    if (body.length === 0) throw new ApiError(400, 'the request body is empty; send a JSON object', 'body');
    if (body.length < OFF_THREAD_JSON_BYTES) {
      try {
        return sjson.parse(body.toString('utf8'), undefined, PARSE_OPTIONS);
      } catch (e) {
        throw refusal(e);
      }
    }
    try {
      // Moved, not copied (readBody's buffer is the body's own): nothing reads it again.
      return await pool.run(body, { transferList: transferOf(body) });
    } catch (e) {
      throw refusal(e);
    }
  });
  return () => pool.close();
}
