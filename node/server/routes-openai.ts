/**
 * The OpenAI-compatible API: `POST /v1/chat/completions` (plain and `stream: true` as server-sent events
 * ending in `data: [DONE]`) and `GET /v1/models`. Clients written for OpenAI — the official SDKs included —
 * work by pointing their base URL at `/v1`.
 *
 * A streamed response sends its headers only when the request's batch starts decoding, so errors found up
 * to then (a refused URL, an image that does not decode, a full queue) still get a proper status and JSON
 * body; after that, an error arrives as a final `data: {"error": ...}` event.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { admitAndRun, clientSignal, requestId, type ServeContext } from './admission.js';
import { ApiError, toApiError } from './errors.js';
import { messagesToRow, type OpenAIMessage } from './openai-convert.js';
import { chatCompletionBodySchema } from './schemas.js';
import type { JobResult, JobSettings } from './scheduler.js';

interface ChatCompletionBody {
  model?: string | null;
  messages: OpenAIMessage[];
  max_tokens?: number | null;
  max_completion_tokens?: number | null;
  temperature?: number | null;
  top_p?: number | null;
  top_k?: number | null;
  repetition_penalty?: number | null;
  stop?: string | string[] | null;
  stream?: boolean | null;
  stream_options?: { include_usage?: boolean } | null;
  n?: number | null;
  seed?: number | null;
  ignore_eos?: boolean | null;
  tools?: unknown[];
  response_format?: { type?: string };
}

const created = () => Math.floor(Date.now() / 1000);
const usage = (r: JobResult) => ({ prompt_tokens: r.promptTokens, completion_tokens: r.completionTokens, total_tokens: r.promptTokens + r.completionTokens });

/** Fields we cannot honour are refused rather than silently ignored. */
function checkUnsupported(body: ChatCompletionBody): void {
  if (body.n != null && body.n !== 1) throw new ApiError(400, `n must be 1 (this server returns one choice per request)`, 'n');
  if (Array.isArray(body.tools) && body.tools.length > 0) throw new ApiError(400, 'tools are not supported by this server', 'tools');
  const fmt = body.response_format?.type;
  if (fmt !== undefined && fmt !== 'text') throw new ApiError(400, `response_format "${fmt}" is not supported (only "text")`, 'response_format');
}

/** Registers the OpenAI routes. */
export function registerOpenAIRoutes(app: FastifyInstance, ctx: ServeContext): void {
  const model = { id: ctx.modelName, object: 'model', created: created(), owned_by: 'multi-token' };
  app.get('/v1/models', async () => ({ object: 'list', data: [model] }));
  app.get('/v1/models/:id', async (request) => {
    const { id } = request.params as { id: string };
    if (id !== ctx.modelName) throw new ApiError(404, `no model "${id}" here (this server serves "${ctx.modelName}")`, 'model');
    return model;
  });

  app.post('/v1/chat/completions', { schema: { body: chatCompletionBodySchema(ctx.maxItems) } }, async (request, reply) => {
    const body = request.body as ChatCompletionBody;
    checkUnsupported(body);
    const id = requestId('chatcmpl');
    const { row, params } = messagesToRow(body.messages, ctx.lmm.modalities, id);
    const tokensParam = body.max_completion_tokens != null ? 'max_completion_tokens' : 'max_tokens';
    const settings: JobSettings = {
      maxNewTokens: body.max_completion_tokens ?? body.max_tokens ?? ctx.maxNewTokens,
      temperature: body.temperature ?? ctx.temperature,
      topP: body.top_p ?? undefined,
      topK: body.top_k ?? undefined,
      repetitionPenalty: body.repetition_penalty ?? undefined,
      stop: body.stop == null ? undefined : typeof body.stop === 'string' ? [body.stop] : body.stop,
      seed: body.seed ?? undefined,
      ignoreEos: body.ignore_eos ?? undefined,
    };
    const itemParam = (key: string, i: number) => params.get(key)?.[i] ?? `${key}[${i}]`;
    const modelName = body.model || ctx.modelName;
    const job = { id, row, settings, signal: clientSignal(reply) };
    if (!body.stream) {
      const r = await admitAndRun(ctx, job, { tokensParam, itemParam });
      return {
        id,
        object: 'chat.completion',
        created: created(),
        model: modelName,
        choices: [{ index: 0, message: { role: 'assistant', content: r.text }, finish_reason: r.finishReason, logprobs: null }],
        usage: usage(r),
      };
    }
    const sse = new SseStream(reply, id, modelName);
    let result: JobResult;
    try {
      result = await admitAndRun(ctx, { ...job, onStart: () => sse.start(), onDelta: (t) => sse.delta(t) }, { tokensParam, itemParam });
    } catch (e) {
      if (!sse.started) throw e;
      sse.fail(e);
      return reply;
    }
    sse.finish(result, body.stream_options?.include_usage === true);
    return reply;
  });
}

/** Writes `chat.completion.chunk` events onto a hijacked reply. */
class SseStream {
  started = false;
  private readonly created = created();

  constructor(
    private readonly reply: FastifyReply,
    private readonly id: string,
    private readonly model: string,
  ) {}

  /** Headers and the first chunk (the assistant role), as OpenAI sends them. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.reply.hijack();
    this.reply.raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      // Reverse proxies (nginx) would otherwise buffer the stream.
      'x-accel-buffering': 'no',
    });
    this.chunk({ role: 'assistant', content: '' }, null);
  }

  delta(text: string): void {
    this.chunk({ content: text }, null);
  }

  finish(r: JobResult, includeUsage: boolean): void {
    this.start();
    this.chunk({}, r.finishReason);
    if (includeUsage) this.event({ ...this.base(), choices: [], usage: usage(r) });
    this.write('data: [DONE]\n\n');
    this.reply.raw.end();
  }

  fail(e: unknown): void {
    this.event(toApiError(e).toJSON());
    this.reply.raw.end();
  }

  private base() {
    return { id: this.id, object: 'chat.completion.chunk', created: this.created, model: this.model };
  }

  private chunk(delta: Record<string, string>, finishReason: string | null): void {
    this.event({ ...this.base(), choices: [{ index: 0, delta, finish_reason: finishReason, logprobs: null }] });
  }

  private event(obj: unknown): void {
    this.write(`data: ${JSON.stringify(obj)}\n\n`);
  }

  private write(s: string): void {
    const raw = this.reply.raw;
    if (!raw.destroyed && !raw.writableEnded) raw.write(s);
  }
}
