import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { startTestServer, type TestServer } from './helpers/server-fixture.js';

let s: TestServer;
before(async () => {
  s = await startTestServer({ headersTimeoutMs: 400, requestTimeoutMs: 800, mediaWorkers: 0 });
});
after(() => s.close());

/** Blocks this thread, as a busy machine or a long synchronous step does; the client runs in its own process. */
function stall(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

/** POSTs `mb` megabytes of JSON from a separate Node process (Node's fetch); resolves with "STATUS message" or "no status: …". */
function postFromAnotherProcess(url: string, mb: number): Promise<string> {
  const script = `
    const body = JSON.stringify({ messages: [{ role: 'user', content: 'hi' }], max_tokens: 2, padding: 'x'.repeat(${mb} << 20) });
    fetch(process.argv[1], { method: 'POST', headers: { 'content-type': 'application/json' }, body })
      .then(async (r) => console.log(r.status, (await r.json()).error?.message ?? ''))
      .catch((e) => console.log('no status:', String(e.cause ?? e)));`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', script, url], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', () => resolve(out.trim()));
  });
}

test('a large body still arriving when the server stalls past --request_timeout_ms is answered, not dropped', async () => {
  // The server's thread stops for longer than the deadline while the body is on its way.
  s.handle.app.server.once('request', () => stall(1500));
  const outcome = await postFromAnotherProcess(`${s.url}/generate`, 24);
  assert.match(outcome, /^\d{3} /, outcome);
  assert.equal((await s.post('/generate', { messages: [{ role: 'user', content: 'hi' }] })).status, 200);
});
