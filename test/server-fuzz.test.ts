/**
 * A seeded, bounded fuzz of the request surface: the hostile inputs plus a few hundred random bodies
 * (valid requests with random mutations, random JSON, broken JSON, odd content types). Every answer must be a
 * 2xx or a 4xx with a JSON error, never a 5xx or a dropped connection, and the server must answer exactly as
 * before afterwards. The seed is fixed, so a failure reproduces; FUZZ_SEED / FUZZ_COUNT explore further.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { PNG } from 'pngjs';
import { patternPng, startTestServer, toneWav, whenIdle, type TestServer } from './helpers/server-fixture.js';

const SEED = Number(process.env.FUZZ_SEED ?? 18);
const COUNT = Number(process.env.FUZZ_COUNT ?? 240);

let s: TestServer;
before(async () => {
  s = await startTestServer({ maxTokensCap: 12, maxNewTokens: 6 });
});
after(() => s.close());

/** mulberry32: a small seeded generator (reproducible across runs and machines). */
function rngFrom(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  return { next, int, pick: <T>(xs: readonly T[]): T => xs[int(xs.length)]! };
}
type Rng = ReturnType<typeof rngFrom>;

const b64 = (b: Uint8Array | string) => Buffer.from(b).toString('base64');
const tinyPng = `data:image/png;base64,${b64(patternPng([40, 80, 120]))}`;
const tallPng = (() => {
  const p = new PNG({ width: 1, height: 100_000 });
  return `data:image/png;base64,${b64(PNG.sync.write(p, { deflateLevel: 9 }))}`;
})();
const hugeSvg = `data:image/svg+xml;base64,${b64('<svg xmlns="http://www.w3.org/2000/svg" width="16000" height="16000"><rect width="100%" height="100%"/></svg>')}`;
const wav = b64(toneWav(330, 0.3));

const STRINGS = [
  '', ' ', 'hi', '<image>', '<speech>', '<image><image>', 'user', 'assistant', 'system', 'tool', '\u0000', '\ud800', '😀'.repeat(50), 'é'.repeat(100),
  tinyPng, tallPng, hugeSvg, 'data:image/png;base64,@@@@', 'data:text/html,<b>x</b>', 'data:,', 'data:image/png;base64,', 'http://127.0.0.1/x.png',
  'http://169.254.169.254/', 'file:///etc/passwd', '../../etc/passwd', '/etc/passwd', 'C:\\x', 'x.png', wav, `data:audio/wav;base64,${wav}`, 'text', 'image_url', 'input_audio',
];

/** A string; long ones (up to 800k characters) only where `long` allows, so a body stays a few MB at most. */
function randString(r: Rng, long: boolean): string {
  const k = r.int(10);
  if (k < 6 || (!long && k >= 8)) return r.pick(STRINGS);
  if (k < 8) return Array.from({ length: r.int(40) }, () => String.fromCharCode(r.int(0x3000))).join('');
  return r.pick(['red ', 'x', '<image> ', 'é']).repeat(1 + r.int(r.next() < 0.3 ? 200_000 : 2_000));
}

function randValue(r: Rng, depth = 0): unknown {
  switch (r.int(depth > 2 ? 5 : 8)) {
    case 0:
      return null;
    case 1:
      return r.next() < 0.5;
    case 2:
      return r.pick([0, -1, 1, 2, 7, 12, 13, 2048, 2 ** 31, 2 ** 53, 1e308, -1e308, 0.5, 1.5, 2.0000001, -0.0001]);
    case 3:
    case 4:
      return randString(r, depth === 0);
    case 5: {
      // Long lists hold only small values.
      const n = r.pick([0, 1, 2, 3, 20, 700]);
      return Array.from({ length: n }, () => (n > 20 ? r.pick(STRINGS) : randValue(r, depth + 1)));
    }
    default: {
      const o: Record<string, unknown> = {};
      for (let i = r.int(4); i > 0; i--) o[r.pick(KEYS)] = randValue(r, depth + 1);
      return o;
    }
  }
}

const KEYS = ['messages', 'role', 'content', 'type', 'text', 'image_url', 'url', 'input_audio', 'data', 'format', 'images', 'speech_audios', 'max_tokens', 'temperature', 'stream', 'stop', 'n', 'seed', 'id', 'detail', 'path'];

function validBody(r: Rng, path: string): Record<string, unknown> {
  if (path === '/generate') {
    const withImage = r.next() < 0.5;
    return { messages: [{ role: 'user', content: withImage ? 'Describe <image>' : 'hello there' }], ...(withImage ? { images: [tinyPng] } : {}), max_new_tokens: 4 };
  }
  const parts: unknown[] = [{ type: 'text', text: 'what is this?' }];
  if (r.next() < 0.4) parts.push({ type: 'image_url', image_url: { url: tinyPng } });
  if (r.next() < 0.3) parts.push({ type: 'input_audio', input_audio: { data: wav, format: 'wav' } });
  return { messages: [{ role: 'user', content: parts }], max_tokens: 4, temperature: 0, stream: r.next() < 0.3 };
}

/** Sets `value` at a random place in `body` (a key of the body, of a message, or of a content part). */
function mutate(r: Rng, body: Record<string, unknown>): void {
  const targets: Record<string, unknown>[] = [body];
  const messages = body.messages;
  if (Array.isArray(messages)) {
    for (const m of messages) if (m && typeof m === 'object') targets.push(m as Record<string, unknown>);
    const content = (messages[0] as { content?: unknown } | undefined)?.content;
    if (Array.isArray(content)) for (const p of content) if (p && typeof p === 'object') targets.push(p as Record<string, unknown>);
  }
  const t = r.pick(targets);
  const keys = Object.keys(t);
  const k = r.next() < 0.6 && keys.length ? r.pick(keys) : r.pick([...KEYS, 'top_p', 'top_k', 'max_completion_tokens', 'repetition_penalty', 'stream_options', 'response_format', 'tools', 'max_new_tokens', 'ignore_eos']);
  if (r.next() < 0.15) delete t[k];
  else t[k] = randValue(r);
}

function randomRequest(r: Rng): { path: string; body: string; type: string } {
  const path = r.pick(['/generate', '/v1/chat/completions']);
  const roll = r.next();
  let body: string;
  if (roll < 0.08) body = JSON.stringify(randValue(r));
  else if (roll < 0.14) body = JSON.stringify(validBody(r, path)).slice(0, r.int(80));
  else if (roll < 0.17) body = Buffer.from(Array.from({ length: r.int(200) }, () => r.int(256))).toString('latin1');
  else {
    const b = validBody(r, path);
    for (let i = 1 + r.int(3); i > 0; i--) if (r.next() < 0.85) mutate(r, b);
    body = JSON.stringify(b);
  }
  const type = r.next() < 0.05 ? r.pick(['text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=latin1', '']) : 'application/json';
  return { path, body, type };
}

const isApiError = (j: any) => typeof j?.error?.message === 'string' && typeof j.error.type === 'string';

const probe = { messages: [{ role: 'user', content: [{ type: 'text', text: 'Describe' }, { type: 'image_url', image_url: { url: tinyPng } }] }], max_tokens: 6, temperature: 0 };

test(`fuzz: the issue's hostile inputs and ${COUNT} random bodies (seed ${SEED}) are each answered 2xx/4xx, and the server answers as before`, async () => {
  const before = await s.post('/v1/chat/completions', probe);
  assert.equal(before.status, 200);

  const hostile: [string, string][] = [
    ['/v1/chat/completions', JSON.stringify({ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: tallPng } }] }] })],
    ['/v1/chat/completions', JSON.stringify({ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: hugeSvg } }] }] })],
    ['/v1/chat/completions', JSON.stringify({ messages: [{ role: 'user', content: 'red '.repeat(130_000) }] })],
    ['/generate', JSON.stringify({ messages: [{ role: 'user', content: 'x'.repeat(10 * 1024 * 1024) }] })],
  ];
  const r = rngFrom(SEED);
  const requests = [...hostile.map(([path, body]) => ({ path, body, type: 'application/json' })), ...Array.from({ length: COUNT }, () => randomRequest(r))];
  const statuses = new Map<number, number>();
  // Four clients at a time, so requests also meet in batches.
  let next = 0;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (next < requests.length) {
        const i = next++;
        const q = requests[i]!;
        const headers: Record<string, string> = q.type ? { 'content-type': q.type } : {};
        const res = await fetch(s.url + q.path, { method: 'POST', headers, body: q.body }).catch((e: Error) => e);
        assert.ok(!(res instanceof Error), `request ${i} (${q.path}, ${q.body.slice(0, 200)}): connection failed: ${res instanceof Error ? res.message : ''}`);
        const text = await res.text();
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        assert.ok(res.status >= 200 && res.status < 500, `request ${i} (${q.path}, ${q.body.slice(0, 300)}) got ${res.status}: ${text.slice(0, 300)}`);
        if (res.status >= 400) assert.ok(isApiError(JSON.parse(text)), `request ${i}: error body ${text.slice(0, 200)}`);
      }
    }),
  );
  // Both outcomes were exercised.
  assert.ok((statuses.get(200) ?? 0) >= 20, `statuses: ${JSON.stringify([...statuses])}`);
  assert.ok([...statuses.keys()].filter((c) => c >= 400).length >= 3, `statuses: ${JSON.stringify([...statuses])}`);

  await whenIdle(s.url);
  const health = (await (await fetch(`${s.url}/health`)).json()) as { status: string; running: number };
  assert.equal(health.status, 'ok');
  const again = await s.post('/v1/chat/completions', probe);
  assert.equal(again.status, 200);
  assert.equal(again.json.choices[0].message.content, before.json.choices[0].message.content);
});
