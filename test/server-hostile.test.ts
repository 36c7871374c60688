import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { refusedAddressReason } from '../node/server/address-policy.js';
import { patternPng, startTestServer, type TestServer } from './helpers/server-fixture.js';

let dir: string;
let s: TestServer;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mt-hostile-'));
  await mkdir(join(dir, 'media'));
  await writeFile(join(dir, 'media', 'ok.png'), patternPng([1, 2, 3]));
  await writeFile(join(dir, 'outside.png'), patternPng([4, 5, 6]));
  await symlink(join(dir, 'outside.png'), join(dir, 'media', 'link.png'));
  await symlink(dir, join(dir, 'media', 'up'));
  s = await startTestServer({ mediaRoot: join(dir, 'media') });
});
after(async () => {
  await s.close();
  await rm(dir, { recursive: true, force: true });
});

const image = (ref: unknown) => ({ messages: [{ role: 'user', content: 'Describe <image>' }], images: [ref] });
const chat = (extra: Record<string, unknown>) => ({ messages: [{ role: 'user', content: 'hi' }], ...extra });

/** [name, path, body (object, or a raw string sent as is), expected status, expected param or message pattern] */
const CASES: [string, string, unknown, number, (string | RegExp)?][] = [
  ['malformed JSON', '/generate', '{"messages": [', 400, 'body'],
  ['empty body', '/v1/chat/completions', '', 400, 'body'],
  ['prototype pollution', '/generate', '{"messages":[{"role":"user","content":"hi"}],"__proto__":{"x":1}}', 400],
  ['http://127.0.0.1/', '/generate', image('http://127.0.0.1/'), 400, /127\.0\.0\.1, which is loopback/],
  ['cloud metadata', '/generate', image('http://169.254.169.254/latest/meta-data'), 400, /linkLocal/],
  ['IPv4-mapped IPv6 loopback', '/generate', image('http://[::ffff:127.0.0.1]/'), 400, /loopback/],
  ['AWS IPv6 metadata', '/generate', image('http://[fd00:ec2::254]/'), 400, /uniqueLocal/],
  ['localhost (name → 127.0.0.1)', '/generate', image('http://localhost:9/x.png'), 400, /"localhost" resolves to/],
  ['hex IPv4 loopback', '/generate', image('http://0x7f.1/'), 400, /loopback/],
  ['private LAN', '/generate', image('https://10.0.0.1/x.png'), 400, /private/],
  ['file:///etc/passwd', '/generate', image('file:///etc/passwd'), 400, /outside the server's media root/],
  ['gopher URL', '/generate', image('gopher://example.com/'), 400, /scheme "gopher:" is not allowed/],
  ['URL with credentials', '/generate', image('http://user:pw@example.com/x.png'), 400, /credentials/],
  ['../ escape', '/generate', image('../outside.png'), 400, /outside the server's media root/],
  ['absolute path outside', '/generate', image('/etc/passwd'), 400, /outside the server's media root/],
  ['symlink escape (file)', '/generate', image('link.png'), 400, /through a symlink/],
  ['symlink escape (folder)', '/generate', image('up/outside.png'), 400, /through a symlink/],
  ['missing file', '/generate', image('nope.png'), 400, /no such file/],
  ['text data URL as image', '/generate', image('data:text/html;base64,PGI+'), 400, /not an image type/],
  ['broken base64', '/generate', image('data:image/png;base64,@@@@'), 400, /invalid base64/],
  ['10,000 images', '/generate', { messages: [{ role: 'user', content: 'x' }], images: Array.from({ length: 10_000 }, () => 'a.png') }, 400, 'images'],
  ['10,000 image parts', '/v1/chat/completions', { messages: [{ role: 'user', content: Array.from({ length: 10_000 }, () => ({ type: 'image_url', image_url: { url: 'a.png' } })) }] }, 400, 'messages[0].content'],
  ['messages is a string', '/generate', { messages: 'hi' }, 400, 'messages'],
  ['content is a number', '/v1/chat/completions', { messages: [{ role: 'user', content: 5 }] }, 400, 'messages[0].content'],
  ['unknown role', '/v1/chat/completions', { messages: [{ role: 'robot', content: 'x' }] }, 400, 'messages[0].role'],
  ['max_tokens as a string', '/v1/chat/completions', chat({ max_tokens: '5' }), 400, 'max_tokens'],
  ['negative temperature', '/v1/chat/completions', chat({ temperature: -1 }), 400, 'temperature'],
  ['stream is a string', '/v1/chat/completions', chat({ stream: 'yes' }), 400, 'stream'],
  ['missing messages', '/v1/chat/completions', { model: 'x' }, 400, 'messages'],
  ['missing messages (/generate)', '/generate', {}, 400, 'messages'],
  ['empty messages', '/generate', { messages: [] }, 400, 'messages'],
  ['body is an array', '/generate', [1, 2], 400],
  ['unknown data key', '/generate', { messages: [{ role: 'user', content: 'x' }], sounds: ['a'] }, 400, /unknown data key "sounds"/],
  ['<image> without an image', '/generate', { messages: [{ role: 'user', content: 'x <image>' }] }, 400, /1 <image> token\(s\) in the text but 0 item/],
  ['<image> typed into OpenAI text', '/v1/chat/completions', { messages: [{ role: 'user', content: 'look <image>' }] }, 400, 'messages[0].content'],
  ['n = 3', '/v1/chat/completions', chat({ n: 3 }), 400, 'n'],
  ['tools', '/v1/chat/completions', chat({ tools: [{ type: 'function', function: { name: 'f' } }] }), 400, 'tools'],
  ['max_tokens over the cap', '/v1/chat/completions', chat({ max_tokens: 1_000_000 }), 422, 'max_tokens'],
  ['prompt longer than the context', '/generate', { messages: [{ role: 'user', content: 'hello world '.repeat(3000) }] }, 422, /the model's context is 2048/],
];

test('hostile requests: each gets its status and a JSON error naming the field, and the server keeps answering', async () => {
  for (const [name, path, body, status, want] of CASES) {
    const r = await s.post(path, typeof body === 'string' ? body : JSON.stringify(body));
    assert.equal(r.status, status, `${name}: ${JSON.stringify(r.json).slice(0, 300)}`);
    assert.equal(typeof r.json.error?.message, 'string', `${name}: JSON error body`);
    if (typeof want === 'string') assert.equal(r.json.error.param, want, `${name}: param (${r.json.error.message})`);
    else if (want) assert.match(r.json.error.message, want, name);
  }
  const health = await (await fetch(`${s.url}/health`)).json() as { status: string; failed: number; running: number };
  assert.equal(health.status, 'ok');
  assert.equal(health.running, 0);
  const fine = await s.post('/generate', image('ok.png'));
  assert.equal(fine.status, 200, JSON.stringify(fine.json));
});

test('a 50 MB body is refused with 413 (and a non-JSON body with 415); the server keeps answering', async () => {
  const big = JSON.stringify({ messages: [{ role: 'user', content: 'x'.repeat(50 * 1024 * 1024) }] });
  const r = await s.post('/generate', big);
  assert.equal(r.status, 413);
  assert.equal(r.json.error.code, 'request_too_large');
  const form = await fetch(`${s.url}/generate`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'messages=hi' });
  assert.equal(form.status, 415);
  assert.equal((await s.post('/generate', { messages: [{ role: 'user', content: 'hi' }] })).status, 200);
});

test('address policy: only public unicast addresses pass (IPv4-mapped forms judged as IPv4)', () => {
  for (const a of ['8.8.8.8', '1.1.1.1', '2001:4860:4860::8888', '::ffff:8.8.8.8']) assert.equal(refusedAddressReason(a), null, a);
  const refused: [string, string][] = [
    ['127.0.0.1', 'loopback'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['192.168.1.1', 'private'],
    ['169.254.169.254', 'linkLocal'],
    ['100.64.0.1', 'carrierGradeNat'],
    ['0.0.0.0', 'unspecified'],
    ['224.0.0.1', 'multicast'],
    ['::1', 'loopback'],
    ['::', 'unspecified'],
    ['fe80::1', 'linkLocal'],
    ['fe80::1%eth0', 'linkLocal'],
    ['fd00:ec2::254', 'uniqueLocal'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:169.254.169.254', 'linkLocal'],
    ['2002:7f00:1::', '6to4'],
    ['64:ff9b::7f00:1', 'rfc6052'],
    ['2001::1', 'teredo'],
  ];
  for (const [a, why] of refused) assert.equal(refusedAddressReason(a), why, a);
});
