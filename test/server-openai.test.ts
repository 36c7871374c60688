import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { tf } from '../src/tf.js';
import { generateBatch } from '../src/lmm/generate.js';
import { MemorySource } from '../src/io/source.js';
import { loadLMM } from '../src/lmm/load.js';
import { makeTinyMultimodalFiles } from '../src/tiny/tiny-multimodal.js';
import { createServer } from '../node/server/app.js';
import { patternPng, pngDataUrl, startTestServer, tinyServingModel, toneWav, whenIdle, type TestServer } from './helpers/server-fixture.js';

let s: TestServer;
let client: OpenAI;
before(async () => {
  s = await startTestServer();
  client = new OpenAI({ baseURL: `${s.url}/v1`, apiKey: 'unused', maxRetries: 0 });
});
after(() => s.close());

const QUESTION = 'What is in this image?';
const RGB: [number, number, number] = [200, 40, 90];
const imageMessage = (): OpenAI.ChatCompletionMessageParam => ({
  role: 'user',
  content: [
    { type: 'text', text: QUESTION },
    { type: 'image_url', image_url: { url: pngDataUrl(RGB) } },
  ],
});

test('openai client: a chat completion with an image (data URL) equals the library generating the same row', async () => {
  const res = await client.chat.completions.create({ model: 'tiny-llava', messages: [imageMessage()], max_tokens: 6, temperature: 0 });
  const lmm = await tinyServingModel();
  const row = { messages: [{ role: 'user', content: `${QUESTION}\n<image>` }], images: [patternPng(RGB)] };
  const [want] = await generateBatch(lmm, [row], { maxNewTokens: 6 });
  assert.equal(res.object, 'chat.completion');
  assert.equal(res.model, 'tiny-llava', 'the requested model name is echoed');
  assert.equal(res.choices.length, 1);
  assert.equal(res.choices[0]!.message.role, 'assistant');
  assert.equal(res.choices[0]!.message.content, want!.text);
  assert.equal(res.choices[0]!.finish_reason, want!.finishReason);
  const promptTokens = lmm.encodeRow(row, { mode: 'generate' }).inputIds.length;
  assert.deepEqual(res.usage, { prompt_tokens: promptTokens, completion_tokens: want!.completionTokens, total_tokens: promptTokens + want!.completionTokens });
  assert.ok(promptTokens > 16, 'prompt tokens count the 16 image placeholder positions');
});

test('openai client: streaming yields the same text as a plain completion, then finish_reason, usage and [DONE]', async () => {
  const plain = await client.chat.completions.create({ model: 'm', messages: [imageMessage()], max_tokens: 8, temperature: 0 });
  const stream = await client.chat.completions.create({
    model: 'm',
    messages: [imageMessage()],
    max_tokens: 8,
    temperature: 0,
    stream: true,
    stream_options: { include_usage: true },
  });
  let text = '';
  let finish: string | null = null;
  let usage: OpenAI.CompletionUsage | undefined;
  let chunks = 0;
  for await (const chunk of stream) {
    chunks++;
    assert.equal(chunk.object, 'chat.completion.chunk');
    if (chunk.usage) usage = chunk.usage;
    const choice = chunk.choices[0];
    if (!choice) continue;
    text += choice.delta.content ?? '';
    if (choice.finish_reason) finish = choice.finish_reason;
  }
  assert.ok(chunks >= 3, `${chunks} chunks`);
  assert.equal(text, plain.choices[0]!.message.content);
  assert.equal(finish, plain.choices[0]!.finish_reason);
  assert.deepEqual(usage, plain.usage);

  const raw = await fetch(`${s.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ messages: [{ role: 'user', content: 'hi' }], max_tokens: 3, stream: true }),
  });
  assert.match(raw.headers.get('content-type') ?? '', /^text\/event-stream/);
  const events = (await raw.text()).split('\n\n').filter(Boolean);
  assert.ok(events.every((e) => e.startsWith('data: ')), 'every event is a data: line');
  assert.equal(events.at(-1), 'data: [DONE]');
  assert.ok(JSON.parse(events.at(-2)!.slice(6)).choices[0].finish_reason, 'the last chunk carries finish_reason');
});

test('openai client: input_audio (base64 wav) becomes a <speech> item; n > 1 and unknown models are refused', async () => {
  const res = await client.chat.completions.create({
    model: 'm',
    messages: [{ role: 'user', content: [{ type: 'text', text: 'Transcribe:' }, { type: 'input_audio', input_audio: { data: Buffer.from(toneWav()).toString('base64'), format: 'wav' } }] }],
    max_tokens: 4,
    temperature: 0,
  });
  const text = await client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'Transcribe:' }], max_tokens: 4, temperature: 0 });
  assert.equal(res.usage!.prompt_tokens - text.usage!.prompt_tokens >= 10, true, 'audio adds its 10 placeholder positions');

  await assert.rejects(client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }], n: 2 }), (e: unknown) => {
    assert.ok(e instanceof OpenAI.APIError);
    assert.equal(e.status, 400);
    assert.equal((e.error as { param?: string }).param, 'n');
    return true;
  });
  const models = await client.models.list();
  assert.deepEqual(models.data.map((m) => m.id), ['multi-token']);
  await assert.rejects(client.models.retrieve('gpt-4'), (e: unknown) => e instanceof OpenAI.NotFoundError);
});

test('a model without an image modality refuses image parts with 400 naming the part', async () => {
  const files = await makeTinyMultimodalFiles({ arch: 'qwen2', hiddenSize: 16, intermediateSize: 32, numHiddenLayers: 1, modalities: ['vector'] });
  const enc = new TextEncoder();
  const lmm = await loadLMM(new MemorySource(new Map([...files].map(([k, v]) => [k, typeof v === 'string' ? enc.encode(v) : v]))));
  const h = await createServer({ lmm, temperature: 0 });
  const url = await h.listen({ host: '127.0.0.1', port: 0 });
  try {
    const c = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'x', maxRetries: 0 });
    await assert.rejects(c.chat.completions.create({ model: 'm', messages: [imageMessage()] }), (e: unknown) => {
      assert.ok(e instanceof OpenAI.BadRequestError);
      assert.equal((e.error as { param?: string }).param, 'messages[0].content[1]');
      assert.match(e.message, /no image modality/);
      return true;
    });
  } finally {
    await h.close();
    lmm.dispose();
  }
});

test('--api_key: wrong or missing key is 401, the right key works, /health stays open', async () => {
  const secured = await startTestServer({ apiKey: 'sekret' });
  try {
    const wrong = new OpenAI({ baseURL: `${secured.url}/v1`, apiKey: 'nope', maxRetries: 0 });
    await assert.rejects(wrong.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }), OpenAI.AuthenticationError);
    const missing = await secured.post('/generate', { messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(missing.status, 401);
    assert.equal(missing.json.error.type, 'authentication_error');
    const right = new OpenAI({ baseURL: `${secured.url}/v1`, apiKey: 'sekret', maxRetries: 0 });
    const ok = await right.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 });
    assert.equal(typeof ok.choices[0]!.message.content, 'string');
    assert.equal((await fetch(`${secured.url}/health`)).status, 200);
  } finally {
    await secured.close();
  }
});

test('a client that disconnects mid-stream frees the model at once', async () => {
  const solo = await startTestServer({ maxBatchSize: 1, maxTokensCap: 4096 });
  try {
    const health = async () => (await fetch(`${solo.url}/health`)).json() as Promise<{ running: number; queued: number; aborted: number; completed: number }>;
    assert.equal((await solo.post('/generate', { messages: [{ role: 'user', content: 'warm up' }] })).status, 200);
    await whenIdle(solo.url);
    const tensors = tf.memory().numTensors;
    const ctl = new AbortController();
    const res = await fetch(`${solo.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      // ~1500 tokens with no EOS stop: seconds of work if nobody stopped it.
      body: JSON.stringify({ messages: [{ role: 'user', content: 'go on forever' }], max_tokens: 1500, ignore_eos: true, stream: true, temperature: 0 }),
      signal: ctl.signal,
    });
    assert.equal(res.status, 200);
    const reader = res.body!.getReader();
    const first = await reader.read();
    assert.match(new TextDecoder().decode(first.value), /^data: /);
    assert.equal((await health()).running, 1);
    const t0 = performance.now();
    ctl.abort();
    let h = await health();
    while ((h.running > 0 || h.queued > 0) && performance.now() - t0 < 5000) {
      await new Promise((r) => setTimeout(r, 20));
      h = await health();
    }
    const freedMs = performance.now() - t0;
    assert.equal(h.running, 0);
    assert.equal(h.aborted, 1);
    assert.equal(h.completed, 1, 'only the warm-up completed: the abandoned stream did not run to its end');
    assert.ok(freedMs < 2000, `model freed after ${freedMs.toFixed(0)} ms`);
    await whenIdle(solo.url);
    assert.equal(tf.memory().numTensors, tensors, 'the aborted generation freed its KV cache and embeddings');
    const next = await solo.post('/generate', { messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(next.status, 200);
  } finally {
    await solo.close();
  }
});
