/**
 * The server's JSON body reader (node/server/body-reader.ts): the body lands in one buffer that is exactly the
 * body (so it can be moved to the JSON worker), filled chunk by chunk; limits and a short or over-long body are
 * refused with the API's errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import type { IncomingMessage } from 'node:http';
import { readBody } from '../node/server/body-reader.js';

/** A request stream that delivers `chunks` and declares `length` (null: no Content-Length). */
function request(chunks: Buffer[], length: number | null): IncomingMessage {
  const r = Readable.from(chunks, { objectMode: false }) as unknown as IncomingMessage;
  (r as { headers: Record<string, string> }).headers = length === null ? {} : { 'content-length': String(length) };
  return r;
}

test('the body is read into one buffer that owns its memory, declared or chunked', async () => {
  const chunks = Array.from({ length: 40 }, (_, i) => Buffer.alloc(65_536, i));
  const want = Buffer.concat(chunks);
  for (const declared of [want.length, null]) {
    const body = await readBody(request(chunks, declared), 10 * 2 ** 20);
    assert.ok(body.equals(want), `declared ${declared}`);
    assert.equal(body.byteOffset, 0);
    assert.equal(body.buffer.byteLength, want.length, 'its own ArrayBuffer: movable to a worker');
  }
});

test('over the limit is 413 (declared or counted); a body shorter or longer than declared is 400', async () => {
  const big = [Buffer.alloc(1000), Buffer.alloc(1000)];
  await assert.rejects(readBody(request(big, 2000), 1500), (e: { status: number; code: string }) => e.status === 413 && e.code === 'request_too_large');
  await assert.rejects(readBody(request(big, null), 1500), (e: { status: number }) => e.status === 413);
  await assert.rejects(readBody(request(big, 2500), 1e6), /ended after 2000 of the 2500 bytes/);
  await assert.rejects(readBody(request(big, 1500), 1e6), /longer than its Content-Length \(1500\)/);
  await assert.rejects(readBody(request(big, Number.NaN), 1e6), /invalid Content-Length/);
});
