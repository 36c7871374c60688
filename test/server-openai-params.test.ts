/**
 * OpenAI request parameters over HTTP with the official client: `stop` ends the answer before the stop string,
 * `top_p` really narrows sampling (a tiny nucleus is greedy at temperature 1), and `GET /v1/models` lists the
 * model the server serves.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startTestServer, type TestServer } from './helpers/server-fixture.js';

let s: TestServer;
let client: OpenAI;
before(async () => {
  s = await startTestServer();
  client = new OpenAI({ baseURL: `${s.url}/v1`, apiKey: 'unused', maxRetries: 0 });
});
after(() => s.close());

const messages: OpenAI.ChatCompletionMessageParam[] = [{ role: 'user', content: 'Tell me about the red circle.' }];

async function complete(params: Partial<OpenAI.ChatCompletionCreateParamsNonStreaming>): Promise<OpenAI.ChatCompletion> {
  return client.chat.completions.create({ model: 'tiny', messages, max_tokens: 12, temperature: 0, ...params });
}

test('stop: the answer ends before the first stop string, with finish_reason "stop"', async () => {
  const full = (await complete({})).choices[0]!;
  const text = full.message.content!;
  // A stop string that first occurs after the start, so the cut is visible and not empty.
  const at = [...text].findIndex((ch, i) => i > 0 && text.indexOf(ch) === i && ch.trim() !== '');
  assert.ok(at > 0, `the greedy answer ${JSON.stringify(text)} has a character to stop at`);
  const stopped = (await complete({ stop: text[at]! })).choices[0]!;
  assert.equal(stopped.message.content, text.slice(0, at));
  assert.equal(stopped.finish_reason, 'stop');
  const asList = (await complete({ stop: ['\u0000never', text[at]!] })).choices[0]!;
  assert.equal(asList.message.content, text.slice(0, at), 'a list of stop strings: the first match wins');
  const none = (await complete({ stop: '\u0000never' })).choices[0]!;
  assert.equal(none.message.content, text, 'a stop string that never appears changes nothing');
});

test('top_p: a tiny nucleus at temperature 1 gives the greedy answer; top_p 1 samples others', async () => {
  const greedy = (await complete({})).choices[0]!.message.content;
  for (const seed of [1, 2, 3]) {
    const nucleus = (await complete({ temperature: 1, top_p: 1e-6, seed })).choices[0]!.message.content;
    assert.equal(nucleus, greedy, `seed ${seed}: top_p 1e-6 keeps only the most likely token`);
  }
  const sampled = await Promise.all([1, 2, 3, 4, 5].map(async (seed) => (await complete({ temperature: 1, top_p: 1, seed })).choices[0]!.message.content));
  assert.ok(sampled.some((t) => t !== greedy), 'without the nucleus, temperature 1 leaves the greedy path');
  const again = (await complete({ temperature: 1, top_p: 1, seed: 1 })).choices[0]!.message.content;
  assert.equal(again, sampled[0], 'the same seed samples the same answer');
});

test('GET /v1/models lists the served model; /v1/models/:id finds it or answers 404 naming the model', async () => {
  const page = await client.models.list();
  assert.equal(page.data.length, 1);
  const model = page.data[0]!;
  assert.equal(model.object, 'model');
  assert.equal(model.owned_by, 'multi-token');
  assert.ok(model.id.length > 0 && Number.isInteger(model.created));
  assert.deepEqual(await client.models.retrieve(model.id), model);
  const res = await fetch(`${s.url}/v1/models/not-${encodeURIComponent(model.id)}`);
  assert.equal(res.status, 404);
  const body = (await res.json()) as { error: { message: string; param: string } };
  assert.equal(body.error.message, `no model "not-${model.id}" here (this server serves "${model.id}")`);
  assert.equal(body.error.param, 'model');
});
