/**
 * Errors the HTTP server answers with, in OpenAI's shape for both APIs:
 * `{"error": {"message", "type", "param"?, "code"?}}`. Every failure path (schema validation, body limits,
 * media loading, the model) ends up here, so a client always gets JSON with a status that says whose fault
 * it was and, where possible, the request field at fault.
 */
import type { FastifyError, FastifyReply } from 'fastify';
import { RowError } from '../../src/util/row-error.js';
import { PromptTooLongError } from '../../src/lmm/generate.js';

/** OpenAI's error `type` values (plus ours for 5xx). */
export type ApiErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'not_found_error'
  | 'rate_limit_error'
  | 'server_error'
  | 'service_unavailable';

/** An error with its HTTP status and the request field it is about. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly param?: string,
    readonly type: ApiErrorType = status === 401 ? 'authentication_error' : status === 404 ? 'not_found_error' : status === 429 ? 'rate_limit_error' : status >= 500 ? 'server_error' : 'invalid_request_error',
    readonly code?: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }

  /** The JSON body. */
  toJSON(): { error: { message: string; type: string; param: string | null; code: string | null } } {
    return { error: { message: this.message, type: this.type, param: this.param ?? null, code: this.code ?? null } };
  }
}

/** Raised for a request whose client went away (its answer is never sent). */
export class ClientGoneError extends Error {
  constructor() {
    super('client disconnected');
    this.name = 'ClientGoneError';
  }
}

/** `/messages/0/content` → `messages[0].content` (how OpenAI names fields in `param`). */
export function jsonPointerToParam(pointer: string, extra?: string): string {
  const parts = pointer.split('/').filter(Boolean).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (extra) parts.push(extra);
  let out = '';
  for (const p of parts) out += /^\d+$/.test(p) ? `[${p}]` : out ? `.${p}` : p;
  return out;
}

interface AjvError {
  instancePath?: string;
  keyword?: string;
  message?: string;
  params?: Record<string, unknown>;
}

/** A fastify schema-validation error → 400 naming the first field at fault. */
function validationError(errors: AjvError[]): ApiError {
  const e = errors[0] ?? {};
  const missing = e.keyword === 'required' ? String(e.params?.missingProperty ?? '') : undefined;
  const param = jsonPointerToParam(e.instancePath ?? '', missing) || 'body';
  let msg = e.message ?? 'is invalid';
  if (missing) msg = 'is required';
  else if (e.keyword === 'enum' && Array.isArray(e.params?.allowedValues)) msg = `must be one of ${(e.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
  else if (e.keyword === 'type') msg = `must be ${String(e.params?.type ?? '').replace(/,/g, ' or ')}`;
  return new ApiError(400, `${param} ${msg}`, param);
}

/**
 * Maps anything thrown while handling a request to an ApiError: fastify's own errors (body too large,
 * malformed JSON, wrong content type, schema validation), the library's row errors (a bad image, a token /
 * item count mismatch → 400; a prompt that cannot fit → 422), and anything else (500, message kept generic
 * so internals do not leak).
 */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof PromptTooLongError) return new ApiError(422, stripRow(err), 'messages', 'invalid_request_error', 'context_length_exceeded');
  if (err instanceof RowError) {
    // Item errors start with the item (`images[0]: could not decode image …`): that is the field at fault.
    const msg = stripRow(err);
    return new ApiError(400, msg, /^([A-Za-z_][\w]*\[\d+\])(?=[:\s])/.exec(msg)?.[1]);
  }
  const fe = err as Partial<FastifyError> & { validation?: AjvError[] };
  if (Array.isArray(fe.validation)) return validationError(fe.validation);
  switch (fe.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ApiError(413, `request body is larger than the server's limit (--max_body_bytes)`, undefined, 'invalid_request_error', 'request_too_large');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ApiError(415, 'send the request body as JSON (Content-Type: application/json)');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new ApiError(400, 'the request body is empty; send a JSON object', 'body');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new ApiError(400, 'the request body is not valid JSON', 'body');
  }
  // Fastify's JSON parser reports syntax errors (and prototype-poisoning attempts) as 400 SyntaxErrors.
  if (fe.statusCode === 400 || err instanceof SyntaxError) return new ApiError(400, `malformed JSON body: ${fe.message ?? 'parse error'}`, 'body');
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) return new ApiError(fe.statusCode, fe.message ?? 'bad request');
  return new ApiError(500, 'internal server error');
}

/** The row id in a RowError names our internal request id, which the client never saw: drop the prefix. */
function stripRow(err: RowError): string {
  return err.message.replace(/^row "[^"]*": /, '');
}

/** Sends an error reply (no-op when the response has already started, e.g. a stream). */
export function sendError(reply: FastifyReply, err: unknown): FastifyReply {
  const api = toApiError(err);
  if (api.status === 401) reply.header('WWW-Authenticate', 'Bearer');
  return reply.code(api.status).type('application/json').send(api.toJSON());
}
