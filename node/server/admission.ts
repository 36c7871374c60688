/**
 * What both APIs do between parsing a request and queueing it: check the server's limits, encode the prompt
 * once (so a malformed conversation or an oversized prompt is answered at once, with the right status,
 * without waiting in the queue), load the media it refers to, and tie the request's life to its client's
 * connection.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyReply } from 'fastify';
import type { LMM } from '../../src/lmm/lmm.js';
import type { ChatRow } from '../../src/chat/encode-chat.js';
import { RowError } from '../../src/util/row-error.js';
import { ApiError } from './errors.js';
import type { MediaFetcher } from './media-fetch.js';
import { countItems, resolveRowMedia, type ItemParam } from './media-items.js';
import { checkMediaBudgets, checkTextBudget, type Budgets } from './budgets.js';
import type { MediaPool } from './media-pool.js';
import type { MediaRecipe } from './media-recipes.js';
import { prepareRowMedia } from './media-prepare.js';
import type { JobRequest, JobResult, JobSettings, Scheduler } from './scheduler.js';

/** Server-wide state the routes share. */
export interface ServeContext {
  lmm: LMM;
  scheduler: Scheduler;
  fetcher: MediaFetcher;
  /** Name reported by /v1/models and echoed when a request names none. */
  modelName: string;
  /** Default completion length (`--max_new_tokens`). */
  maxNewTokens: number;
  /** Default temperature (`--temperature`). */
  temperature: number;
  /** Largest completion length a request may ask for (`--max_tokens_cap`). */
  maxTokensCap: number;
  /** Most modality items per request (`--max_items`). */
  maxItems: number;
  /** Longest prompt + completion (the LM's context). */
  maxLength: number;
  /** What one request may cost (budgets.ts). */
  budgets: Budgets;
  /** Worker threads that decode and preprocess media; null = preprocess on the model's thread. */
  pool: MediaPool | null;
  /** Per modality (in `lmm.modalities` order): how its items are prepared on the pool, or null. */
  recipes: (MediaRecipe | null)[];
}

/** A fresh id for a request (also its row id inside a batch). */
export function requestId(prefix: string): string {
  return `${prefix}-${randomUUID().replace(/-/g, '').slice(0, 24)}`;
}

/**
 * An AbortSignal that fires when the client disconnects before its response is complete (the response
 * stream closes without having finished).
 */
export function clientSignal(reply: FastifyReply): AbortSignal {
  const ctl = new AbortController();
  const res = reply.raw;
  res.once('close', () => {
    if (!res.writableFinished) ctl.abort();
  });
  return ctl.signal;
}

/** Where the length setting came from, for error messages (`max_tokens` or `max_new_tokens`). */
export interface AdmitOptions {
  tokensParam: string;
  itemParam?: ItemParam;
  signal?: AbortSignal;
}

/**
 * Validates and prepares `row` for the queue; returns its prompt length in tokens (modality placeholders
 * included). Throws ApiErrors: 400 for malformed rows and refused media, 422 for prompts or completion
 * lengths that cannot be served. Call it holding a queue place ({@link Scheduler.reserve}).
 */
export async function admit(ctx: ServeContext, row: ChatRow, settings: JobSettings, o: AdmitOptions): Promise<number> {
  const param: ItemParam = o.itemParam ?? ((k, i) => `${k}[${i}]`);
  const n = countItems(row, ctx.lmm.modalities);
  if (n > ctx.maxItems) throw new ApiError(400, `the request has ${n} modality items; this server accepts at most ${ctx.maxItems} (--max_items)`, 'messages');
  if (settings.maxNewTokens > ctx.maxTokensCap) {
    throw new ApiError(422, `${o.tokensParam} is ${settings.maxNewTokens}; this server allows at most ${ctx.maxTokensCap} (--max_tokens_cap)`, o.tokensParam);
  }
  // Text is measured before it is tokenized: a prompt that cannot fit is refused for the cost of its length.
  checkTextBudget(row, ctx.lmm.modalities, ctx.budgets, { maxLength: ctx.maxLength, longestTokenChars: ctx.lmm.tokenizer.longestTokenChars }, param);
  let promptTokens: number;
  try {
    promptTokens = ctx.lmm.encodeRow(row, { mode: 'generate' }).inputIds.length;
  } catch (e) {
    if (e instanceof RowError) {
      const msg = e.message.replace(/^row "[^"]*": /, '');
      throw new ApiError(400, msg, /^unknown data key "([^"]+)"/.exec(msg)?.[1] ?? 'messages');
    }
    throw e;
  }
  // The same rule streamGenerate applies: the prompt plus at least one new token must fit the context.
  if (promptTokens + 1 > ctx.maxLength) {
    throw new ApiError(422, `the prompt is ${promptTokens} tokens (modality tokens included); the model's context is ${ctx.maxLength}`, 'messages', 'invalid_request_error', 'context_length_exceeded');
  }
  await resolveRowMedia(row, ctx.lmm.modalities, ctx.fetcher, o.signal, o.itemParam);
  // Headers only: what each item would cost to decode, refused before any decoding.
  checkMediaBudgets(row, ctx.lmm.modalities, ctx.budgets, param);
  if (ctx.pool) await prepareRowMedia(row, ctx.lmm.modalities, ctx.recipes, ctx.pool, ctx.budgets, param);
  return promptTokens;
}

/**
 * Admits and runs one request: reserves a queue place first (429 before any work when the queue is full),
 * admits it, then queues it. The place is given back whatever happens.
 */
export async function admitAndRun(
  ctx: ServeContext,
  req: Omit<JobRequest, 'promptTokens'>,
  o: Omit<AdmitOptions, 'signal'>,
): Promise<JobResult> {
  const release = ctx.scheduler.reserve();
  try {
    const promptTokens = await admit(ctx, req.row, req.settings, { ...o, signal: req.signal });
    return await ctx.scheduler.submit({ ...req, promptTokens }, release);
  } finally {
    release();
  }
}
