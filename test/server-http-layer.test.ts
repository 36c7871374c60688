import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { startTestServer, type TestServer } from './helpers/server-fixture.js';

let s: TestServer;
before(async () => {
  s = await startTestServer({ headersTimeoutMs: 400, requestTimeoutMs: 800 });
});
after(() => s.close());

/** Writes `chunks` to a raw connection, `gapMs` apart; resolves with what came back and when the server closed it. */
function raw(chunks: string[], gapMs = 0): Promise<{ status: number; body: any; closedAfterMs: number }> {
  const { port } = new URL(s.url);
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const sock = net.connect(Number(port), '127.0.0.1');
    let text = '';
    let timer: NodeJS.Timeout | undefined;
    const send = (i: number) => {
      if (i >= chunks.length || sock.destroyed) return;
      sock.write(chunks[i]!);
      timer = setTimeout(() => send(i + 1), gapMs);
    };
    sock.on('connect', () => send(0));
    sock.on('data', (d) => (text += d.toString()));
    sock.on('error', () => {});
    sock.on('close', () => {
      clearTimeout(timer);
      const status = Number(/^HTTP\/1\.1 (\d+)/.exec(text)?.[1] ?? -1);
      const body = text.slice(text.indexOf('\r\n\r\n') + 4);
      try {
        resolve({ status, body: JSON.parse(body), closedAfterMs: performance.now() - t0 });
      } catch {
        reject(new Error(`not JSON after status ${status}: ${JSON.stringify(text.slice(0, 300))}`));
      }
    });
  });
}

const isApiError = (body: any) => typeof body?.error?.message === 'string' && typeof body.error.type === 'string' && 'param' in body.error && 'code' in body.error;

test("errors the HTTP parser raises before fastify (400, 431) use the API's JSON error shape", async () => {
  const bad = await raw(['GARBAGE\r\n\r\n']);
  assert.equal(bad.status, 400);
  assert.ok(isApiError(bad.body), JSON.stringify(bad.body));
  assert.match(bad.body.error.message, /malformed HTTP request/);
  const big = await raw([`GET /v1/models HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(40_000)}\r\n\r\n`]);
  assert.equal(big.status, 431);
  assert.ok(isApiError(big.body), JSON.stringify(big.body));
  assert.equal(big.body.error.code, 'headers_too_large');
});

test('slow clients are cut off: headers a byte at a time (slowloris), a body that never ends', async () => {
  const headers = ['POST /generate HTTP/1.1\r\n', ...'Host: 127.0.0.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n'.split('')];
  const slowloris = await raw(headers, 50);
  assert.equal(slowloris.status, 408, JSON.stringify(slowloris.body));
  assert.ok(isApiError(slowloris.body));
  assert.ok(slowloris.closedAfterMs < 3000, `closed after ${slowloris.closedAfterMs} ms`);

  const body = JSON.stringify({ messages: [{ role: 'user', content: 'hi' }] });
  const start = `POST /generate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`;
  const slowBody = await raw([start, ...body.split('')], 100);
  assert.equal(slowBody.status, 408, JSON.stringify(slowBody.body));
  assert.ok(slowBody.closedAfterMs < 4000, `closed after ${slowBody.closedAfterMs} ms`);
  // Meanwhile and after, normal clients are served.
  assert.equal((await s.post('/generate', { messages: [{ role: 'user', content: 'hi' }] })).status, 200);
});

test('a server error is a generic 500 in the JSON shape, and is logged with its stack whatever the request log says', async () => {
  const scheduler = s.handle.scheduler;
  const original = scheduler.submit.bind(scheduler);
  const logged: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  scheduler.submit = () => {
    throw new TypeError('something internal broke');
  };
  process.stderr.write = ((chunk: string | Uint8Array) => {
    logged.push(String(chunk));
    return true;
  }) as typeof process.stderr.write;
  try {
    const r = await s.post('/v1/chat/completions', { messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(r.status, 500);
    assert.ok(isApiError(r.json));
    assert.equal(r.json.error.message, 'internal server error');
    assert.equal(r.json.error.type, 'server_error');
    const g = await s.post('/generate', { messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(g.status, 500);
    assert.ok(isApiError(g.json));
  } finally {
    scheduler.submit = original;
    process.stderr.write = write;
  }
  const log = logged.join('');
  assert.match(log, /TypeError: something internal broke\n\s+at /, 'the stack is logged');
  assert.equal((await s.post('/generate', { messages: [{ role: 'user', content: 'hi' }] })).status, 200);
});

test('large JSON bodies are parsed off the main thread with the same refusals (malformed, __proto__) as small ones', async () => {
  const pad = 'x'.repeat(600 * 1024); // over OFF_THREAD_JSON_BYTES
  for (const filler of ['', pad]) {
    const ok = await s.post('/generate', `{"messages":[{"role":"user","content":"hi"}],"id":"${filler}"}`);
    assert.equal(ok.status, 200, JSON.stringify(ok.json));
    const broken = await s.post('/generate', `{"messages":[{"role":"user","content":"${filler}"`);
    assert.equal(broken.status, 400);
    assert.equal(broken.json.error.param, 'body');
    const poisoned = await s.post('/generate', `{"messages":[{"role":"user","content":"${filler}"}],"__proto__":{"x":1}}`);
    assert.equal(poisoned.status, 400, JSON.stringify(poisoned.json));
    assert.ok(isApiError(poisoned.json));
  }
});
