import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import { mkdtemp, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateBatch } from '../src/lmm/generate.js';
import { patternPng, pngDataUrl, startTestServer, tinyServingModel, type TestServer } from './helpers/server-fixture.js';

const RGB: [number, number, number] = [30, 140, 220];
// The seed README's request, unchanged except for the image source.
const SEED_PROMPT = 'What are things I should be cautious about when I visit this place? <image>';
const seedRequest = (image: string) => ({ messages: [{ role: 'user', content: SEED_PROMPT }], images: [image] });

let dir: string;
let s: TestServer;
let expected: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mt-serve-'));
  await mkdir(join(dir, 'media'));
  await writeFile(join(dir, 'media', 'view.png'), patternPng(RGB));
  s = await startTestServer({ mediaRoot: join(dir, 'media') });
  const [g] = await generateBatch(await tinyServingModel(), [{ ...seedRequest(''), images: [patternPng(RGB)] }], { maxNewTokens: 8 });
  expected = g!.text.trim();
});
after(async () => {
  await s.close();
  await rm(dir, { recursive: true, force: true });
});

test("the seed's /generate request: a path under --media_root, an absolute path, and a data URL give the same {output}", async () => {
  for (const image of ['view.png', join(dir, 'media', 'view.png'), pngDataUrl(RGB), { path: 'view.png' }]) {
    const r = await s.post('/generate', image && typeof image === 'object' ? { ...seedRequest(''), images: [image] } : seedRequest(image));
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.deepEqual(Object.keys(r.json), ['output']);
    assert.equal(r.json.output, expected);
  }
  // Per-request overrides (our extension) and the server default of 8 new tokens.
  const longer = await s.post('/generate', { ...seedRequest('view.png'), max_new_tokens: 12 });
  assert.equal(longer.status, 200);
  assert.ok(longer.json.output.startsWith(expected), `${longer.json.output} continues ${expected}`);
});

/** A media server on 127.0.0.1 with good and bad answers. */
async function mediaServer(): Promise<{ url: string; hosts: string[]; close: () => Promise<void> }> {
  const png = Buffer.from(patternPng(RGB));
  const hosts: string[] = [];
  const server = http.createServer((req, res) => {
    hosts.push(req.headers.host ?? '');
    switch (req.url) {
      case '/view.png':
        return res.writeHead(200, { 'content-type': 'image/png' }).end(png);
      case '/moved':
        return res.writeHead(302, { location: '/view.png' }).end();
      case '/loop':
        return res.writeHead(302, { location: '/loop' }).end();
      case '/page.html':
        return res.writeHead(200, { 'content-type': 'text/html' }).end('<html></html>');
      case '/huge':
        // No Content-Length: the cap must hold while the body streams.
        res.writeHead(200, { 'content-type': 'image/png' });
        for (let i = 0; i < 40; i++) res.write(Buffer.alloc(64 * 1024));
        return res.end();
      case '/slow':
        return; // never answers
      default:
        return res.writeHead(404).end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    hosts,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

test('URL items with --allow_private_urls: fetch, redirects, content type, byte cap, timeout, Host header', async () => {
  const media = await mediaServer();
  const srv = await startTestServer({ allowPrivateUrls: true, maxMediaBytes: 1024 * 1024, fetchTimeoutMs: 400 });
  try {
    for (const p of ['/view.png', '/moved']) {
      const r = await srv.post('/generate', seedRequest(media.url + p));
      assert.equal(r.status, 200, `${p}: ${JSON.stringify(r.json)}`);
      assert.equal(r.json.output, expected);
    }
    // A host name is resolved by the server and the connection pinned to the checked address; Host keeps the name.
    const port = new URL(media.url).port;
    const named = await srv.post('/generate', seedRequest(`http://localhost:${port}/view.png`));
    assert.equal(named.status, 200, JSON.stringify(named.json));
    assert.ok(media.hosts.includes(`localhost:${port}`), `Host headers seen: ${media.hosts}`);

    const cases: [string, RegExp][] = [
      ['/page.html', /content type "text\/html"/],
      ['/huge', /larger than the server's limit/],
      ['/slow', /no complete answer within 400 ms/],
      ['/loop', /more than 3 redirects/],
      ['/missing', /HTTP 404/],
    ];
    for (const [p, re] of cases) {
      const r = await srv.post('/generate', seedRequest(media.url + p));
      assert.equal(r.status, 400, p);
      assert.equal(r.json.error.param, 'images[0]');
      assert.match(r.json.error.message, re, p);
    }
    assert.equal((await srv.post('/generate', seedRequest(media.url + '/view.png'))).status, 200, 'still serving');
  } finally {
    await srv.close();
    await media.close();
  }
});

test('--web_root serves the demo page with MIME types and nothing outside it; unknown API routes are JSON 404/405', async () => {
  const web = join(dir, 'web');
  await mkdir(join(web, 'assets'), { recursive: true });
  await writeFile(join(web, 'index.html'), '<!doctype html><title>demo</title>');
  await writeFile(join(web, 'assets', 'app.js'), 'console.log(1)');
  await writeFile(join(dir, 'secret.txt'), 'secret');
  await symlink(join(dir, 'secret.txt'), join(web, 'leak.txt'));
  const srv = await startTestServer({ webRoot: web });
  try {
    const index = await fetch(`${srv.url}/`);
    assert.equal(index.status, 200);
    assert.match(index.headers.get('content-type')!, /^text\/html/);
    assert.match(await index.text(), /demo/);
    const js = await fetch(`${srv.url}/assets/app.js`);
    assert.match(js.headers.get('content-type')!, /^text\/javascript/);
    const raw = (p: string) =>
      new Promise<number>((resolve, reject) => {
        // node:http sends the path as is (fetch would normalise the dots away).
        http.get(`${srv.url}${p}`, (res) => {
          res.resume();
          resolve(res.statusCode!);
        }).on('error', reject);
      });
    for (const p of ['/../secret.txt', '/assets/../../secret.txt', '/%2e%2e/secret.txt', '/..%2fsecret.txt', '/leak.txt', '/index.html%00.js']) {
      assert.equal(await raw(p), 404, p);
    }
    const unknown = await fetch(`${srv.url}/v1/embeddings`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    assert.equal(unknown.status, 404);
    assert.equal(((await unknown.json()) as { error: { type: string } }).error.type, 'not_found_error');
    const wrongMethod = await fetch(`${srv.url}/generate`);
    assert.equal(wrongMethod.status, 405);
    assert.equal(wrongMethod.headers.get('allow'), 'POST');
  } finally {
    await srv.close();
  }
});
