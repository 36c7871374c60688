import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../src/tf.js';
import { startTestServer, patternPng, pngDataUrl, whenIdle, type TestServer } from './helpers/server-fixture.js';

let s: TestServer;
before(async () => {
  s = await startTestServer({ maxBatchSize: 8, maxQueue: 64 });
});
after(() => s.close());

const WORDS = ['apple', 'river', 'stone', 'cloud', 'lamp', 'green', 'seven', 'music'];

/** 32 different requests: text only and with images, different lengths and colours. */
function request(i: number) {
  const text = `Tell me about ${WORDS.slice(0, 1 + (i % WORDS.length)).join(' ')} number ${i}.`;
  const content: unknown =
    i % 2 === 0
      ? text
      : [{ type: 'text', text }, { type: 'image_url', image_url: { url: pngDataUrl([(i * 37) % 256, (i * 91) % 256, (i * 13) % 256]) } }];
  return { model: 'tiny', messages: [{ role: 'user', content }], max_tokens: 8, temperature: 0 };
}

const health = async () => (await fetch(`${s.url}/health`)).json() as Promise<{ batches: number; running: number; queued: number }>;

/** A long request (no EOS stop) that keeps the model busy so the following requests queue up and batch. */
function blocker(server = s) {
  return server.post('/v1/chat/completions', { messages: [{ role: 'user', content: 'wait' }], max_tokens: 120, temperature: 0, ignore_eos: true });
}

test('32 concurrent requests: each answer equals the answer to the same request sent alone (batching is exact)', async () => {
  const alone: string[] = [];
  for (let i = 0; i < 32; i++) {
    const r = await s.post('/v1/chat/completions', request(i));
    assert.equal(r.status, 200, JSON.stringify(r.json));
    alone.push(r.json.choices[0].message.content);
  }
  assert.ok(new Set(alone).size >= 8, `answers should differ between requests: ${JSON.stringify(alone)}`);

  const batchesBefore = (await health()).batches;
  const block = blocker();
  const results = await Promise.all(Array.from({ length: 32 }, (_, i) => s.post('/v1/chat/completions', request(i))));
  assert.equal((await block).status, 200);
  results.forEach((r, i) => {
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.equal(r.json.choices[0].message.content, alone[i], `request ${i} in a batch vs alone`);
    assert.equal(r.json.usage.total_tokens, r.json.usage.prompt_tokens + r.json.usage.completion_tokens);
  });
  const batches = (await health()).batches - batchesBefore;
  assert.ok(batches <= 1 + 32 / 8 + 1, `33 requests took ${batches} batches: they were not batched`);
});

/** A PNG whose header is fine (so it passes the size budget) but whose pixel data is not. */
function corruptPng(): string {
  const png = Buffer.from(patternPng([5, 5, 5]));
  const idat = png.indexOf('IDAT');
  for (let i = idat + 4; i < idat + 24; i++) png[i] = 0x5a;
  return `data:image/png;base64,${png.toString('base64')}`;
}

for (const workers of [undefined, 0]) {
  const where = workers === 0 ? 'inside its batch (--media_workers 0)' : 'at admission, on the media pool';
  test(`a request with a corrupt image fails alone (400) ${where}; the others in its batch are answered normally`, async () => {
    const server = workers === 0 ? await startTestServer({ maxBatchSize: 8, maxQueue: 64, mediaWorkers: 0 }) : s;
    try {
      const alone = await Promise.all([0, 1, 2].map(async (i) => (await server.post('/v1/chat/completions', request(i))).json.choices[0].message.content));
      const bad = {
        messages: [{ role: 'user', content: [{ type: 'text', text: 'x' }, { type: 'image_url', image_url: { url: corruptPng() } }] }],
        max_tokens: 8,
        temperature: 0,
      };
      await whenIdle(server.url);
      const tensors = tf.memory().numTensors;
      const block = blocker(server);
      const [r0, rBad, r1, r2] = await Promise.all([
        server.post('/v1/chat/completions', request(0)),
        server.post('/v1/chat/completions', bad),
        server.post('/v1/chat/completions', request(1)),
        server.post('/v1/chat/completions', request(2)),
      ]);
      await block;
      await whenIdle(server.url);
      assert.equal(rBad.status, 400, JSON.stringify(rBad.json));
      assert.match(rBad.json.error.message, /could not decode image/);
      // The model thread names items by data key; admission names the OpenAI part.
      assert.equal(rBad.json.error.param, workers === 0 ? 'images[0]' : 'messages[0].content[1].image_url.url');
      [r0, r1, r2].forEach((r, i) => {
        assert.equal(r.status, 200, JSON.stringify(r.json));
        assert.equal(r.json.choices[0].message.content, alone[i]);
      });
      assert.equal(tf.memory().numTensors, tensors, 'no tensors leak from the failed batch and its retry');
    } finally {
      if (server !== s) await server.close();
    }
  });
}

test('a full queue answers 429 and the server keeps serving', async () => {
  const small = await startTestServer({ maxBatchSize: 1, maxQueue: 2 });
  try {
    const slow = (i: number) => small.post('/v1/chat/completions', { messages: [{ role: 'user', content: `slow ${i}` }], max_tokens: 50, temperature: 0, ignore_eos: true });
    const results = await Promise.all(Array.from({ length: 6 }, (_, i) => slow(i)));
    const statuses = results.map((r) => r.status);
    assert.ok(statuses.filter((c) => c === 429).length >= 1, `statuses ${statuses}`);
    assert.ok(statuses.filter((c) => c === 200).length >= 3, `statuses ${statuses}`);
    const limited = results.find((r) => r.status === 429)!;
    assert.equal(limited.json.error.type, 'rate_limit_error');
    assert.equal((await small.post('/generate', { messages: [{ role: 'user', content: 'hi' }] })).status, 200);
  } finally {
    await small.close();
  }
});
