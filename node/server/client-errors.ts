/**
 * Errors Node's HTTP parser raises before a request reaches fastify — a malformed request line or header (400),
 * headers over the size limit (431), a client too slow to send its headers or body (408) — answered in the same
 * JSON error shape as every other error (errors.ts), instead of fastify's own `{"error", "message", "statusCode"}`.
 * The socket is then closed: after a parse error nothing more on it can be trusted.
 */
import type { Socket } from 'node:net';
import { STATUS_CODES } from 'node:http';
import { ApiError } from './errors.js';

/** The ApiError for a `clientError` event's error. */
export function clientErrorToApiError(err: NodeJS.ErrnoException): ApiError {
  switch (err.code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return new ApiError(408, 'the request was not received in time (headers: --header_timeout_ms, whole request: --request_timeout_ms)', undefined, 'invalid_request_error', 'request_timeout');
    case 'HPE_HEADER_OVERFLOW':
      return new ApiError(431, 'the request headers are larger than this server accepts (16 KiB)', undefined, 'invalid_request_error', 'headers_too_large');
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return new ApiError(413, 'the chunk extensions are larger than this server accepts', undefined, 'invalid_request_error', 'request_too_large');
    default:
      return new ApiError(400, `malformed HTTP request (${err.code ?? 'parse error'})`, undefined, 'invalid_request_error', 'bad_request');
  }
}

/** fastify's `clientErrorHandler`: writes the JSON error if the socket can still take it, then closes it. */
export function clientErrorHandler(err: NodeJS.ErrnoException, socket: Socket): void {
  // A reset connection has nobody to answer.
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const api = clientErrorToApiError(err);
  if (socket.writable) {
    const body = JSON.stringify(api.toJSON());
    socket.write(
      `HTTP/1.1 ${api.status} ${STATUS_CODES[api.status] ?? 'Error'}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(err);
}
