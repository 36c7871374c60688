/**
 * Reading a request body into one buffer as it arrives. fastify's own reader gathers the chunks and joins them at
 * the end: for a 10–12 MB body that join was one 50 ms block of the main thread on this machine (a copy into
 * fresh pages), during which no other client was served. Here each chunk is copied on arrival into a buffer
 * sized from `Content-Length`, so the same work is spread over the chunks' own event-loop turns, and the result
 * owns its whole ArrayBuffer, so it can be moved to the JSON worker rather than copied.
 */
import type { IncomingMessage } from 'node:http';
import { ApiError } from './errors.js';

const tooLarge = () => new ApiError(413, `request body is larger than the server's limit (--max_body_bytes)`, undefined, 'invalid_request_error', 'request_too_large');

/** The body of `req` (at most `limit` bytes; 413 past it, 400 when it is shorter or longer than declared). */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const header = req.headers['content-length'];
  const declared = header === undefined ? null : Number(header);
  if (declared !== null && !(Number.isSafeInteger(declared) && declared >= 0)) return Promise.reject(new ApiError(400, 'invalid Content-Length', 'body'));
  if (declared !== null && declared > limit) return Promise.reject(tooLarge());
  return new Promise((resolve, reject) => {
    // Untouched pages of an unsafe allocation are not resident: a client that declares 32 MB and sends little
    // costs what it sent.
    const whole = declared !== null ? Buffer.allocUnsafe(declared) : null;
    const parts: Buffer[] = [];
    let received = 0;
    const fail = (e: Error) => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.resume(); // drain the rest, so the refusal can still be read by a client that keeps sending
      reject(e);
    };
    const onData = (chunk: Buffer) => {
      received += chunk.length;
      if (received > limit) return fail(tooLarge());
      if (!whole) parts.push(chunk);
      else if (received > whole.length) fail(new ApiError(400, `the body is longer than its Content-Length (${declared})`, 'body'));
      else chunk.copy(whole, received - chunk.length);
    };
    const onEnd = () => {
      if (whole && received !== whole.length) return reject(new ApiError(400, `the body ended after ${received} of the ${declared} bytes its Content-Length declares`, 'body'));
      resolve(whole ?? Buffer.concat(parts, received));
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', reject);
  });
}
