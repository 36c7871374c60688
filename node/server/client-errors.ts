/**
 * Errors Node's HTTP parser raises before a request reaches fastify — a malformed request line or header (400),
 * headers over the size limit (431), a client too slow to send its headers or body (408) — answered in the same
 * JSON error shape as every other error (errors.ts), instead of fastify's own `{"error", "message", "statusCode"}`.
 * The connection is then closed: after a parse error nothing more on it can be trusted.
 */
import type { Socket } from 'node:net';
import { STATUS_CODES } from 'node:http';
import { ApiError } from './errors.js';
import { judgeLateConnection } from './deadline-grace.js';

/** A refused connection is kept reading (and dropping) what its client still sends for at most this long… */
export const LINGER_MS = 30_000;
/** …and closed as soon as the client has sent nothing for this long. */
export const LINGER_QUIET_MS = 2_000;

/** Sockets already answered: Node may raise more errors for them (the unfinished message at end of stream). */
const answered = new WeakSet<Socket>();

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

/**
 * Closes a connection whose client may still be sending (a large body cut off by `--request_timeout_ms`) so that
 * the client reads the answer. Destroying it at once would discard unread bytes, and the kernel answers those with
 * a reset that makes the client lose the answer too: Node's fetch, still writing its body, then fails with EPIPE
 * and no status. Instead the answer is followed by a FIN, and what still arrives is read and dropped until the
 * client closes, goes quiet for {@link LINGER_QUIET_MS}, or {@link LINGER_MS} has passed (a "lingering close", as
 * nginx and Apache do it).
 */
function lingeringClose(socket: Socket): void {
  // Stop feeding Node's HTTP parser: the rest of the body must not reach the refused request. Node's own 'data'
  // listener runs the parser, and adding any 'data' listener also detaches the parser's direct (C++) read path.
  socket.removeAllListeners('data');
  let heard = false;
  socket.on('data', () => (heard = true));
  socket.resume();
  socket.end();
  const until = performance.now() + LINGER_MS;
  let timer: NodeJS.Timeout;
  const check = () =>
    // Decided in setImmediate, i.e. after this turn of the event loop has read what is pending: after a stall of this
    // server the timer fires before the socket's waiting bytes are read, and the client would be taken for quiet.
    setImmediate(() => {
      if (socket.destroyed) return;
      if (!heard || performance.now() > until) socket.destroy();
      else {
        heard = false;
        timer = setTimeout(check, LINGER_QUIET_MS);
      }
    });
  timer = setTimeout(check, LINGER_QUIET_MS);
  socket.once('close', () => clearTimeout(timer));
}

/** fastify's `clientErrorHandler`: writes the JSON error if the socket can still take it, then closes it. */
export function clientErrorHandler(err: NodeJS.ErrnoException, socket: Socket): void {
  // A reset connection has nobody to answer; an answered one was answered once.
  if (err.code === 'ECONNRESET' || socket.destroyed || answered.has(socket)) return;
  // A late client may be late only because this server was: see deadline-grace.ts.
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') judgeLateConnection(socket, () => answer(err, socket), () => answered.has(socket));
  else answer(err, socket);
}

/** Writes the JSON error and closes the connection. */
function answer(err: NodeJS.ErrnoException, socket: Socket): void {
  answered.add(socket);
  const api = clientErrorToApiError(err);
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const body = JSON.stringify(api.toJSON());
  socket.write(
    `HTTP/1.1 ${api.status} ${STATUS_CODES[api.status] ?? 'Error'}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
  lingeringClose(socket);
}
