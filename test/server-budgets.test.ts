import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { PNG } from 'pngjs';
import { patternPng, startTestServer, tinyServingModel, toneWav, type TestServer } from './helpers/server-fixture.js';
import { checkMediaBudgets, checkTextBudget, DEFAULT_BUDGETS } from '../node/server/budgets.js';
import { readImageHeader } from '../src/media/image-header.js';
import { readAudioDuration } from '../src/media/audio-duration.js';
import type { Modality } from '../src/modality/modality.js';

let s: TestServer;
let strict: TestServer;
before(async () => {
  s = await startTestServer();
  // Small limits, so the tests need no large inputs.
  strict = await startTestServer({ budgets: { maxResizedPixels: 10_000, maxRequestPixels: 5_000, maxAudioSeconds: 1, maxRequestChars: 300 } });
});
after(async () => {
  await s.close();
  await strict.close();
});

// Made once per size: an 8000² PNG is 256 MB of pixels to deflate (tens of seconds on two busy cores), and one
// filter type for every row (instead of pngjs trying all five per row) halves that; the file is as small.
const pngs = new Map<string, Buffer>();
const png = (w: number, h: number) => {
  const key = `${w}x${h}`;
  if (!pngs.has(key)) {
    const p = new PNG({ width: w, height: h });
    p.data.fill(200);
    pngs.set(key, PNG.sync.write(p, { deflateLevel: 9, filterType: 0 }));
  }
  return pngs.get(key)!;
};
const url = (mime: string, b: Uint8Array | string) => `data:${mime};base64,${Buffer.from(b).toString('base64')}`;
const chat = (...parts: unknown[]) => ({ messages: [{ role: 'user', content: [{ type: 'text', text: 'what is it?' }, ...parts] }], max_tokens: 4, temperature: 0 });
const image = (u: string) => ({ type: 'image_url', image_url: { url: u } });
const svg = (attrs: string) => `<svg xmlns="http://www.w3.org/2000/svg" ${attrs}><rect width="10" height="10"/></svg>`;

test("the issue's hostile requests are refused from their headers and lengths, each naming the item and the flag", async () => {
  const cases: [string, unknown, number, string | null, RegExp][] = [
    ['470-byte PNG of 1×100000', chat(image(url('image/png', png(1, 100_000)))), 400, 'messages[0].content[1].image_url.url', /1×100000 PNG: its aspect ratio is 100,000:1; .*at most 20:1 \(--max_aspect_ratio\)/],
    ['SVG of 16000×16000', chat(image(url('image/svg+xml', svg('width="16000" height="16000"')))), 413, 'messages[0].content[1].image_url.url', /16000×16000 SVG \(256,000,000 pixels\).*--max_image_pixels/],
    ['SVG sized by its viewBox', chat(image(url('image/svg+xml', svg('viewBox="0 0 9000 9000"')))), 413, 'messages[0].content[1].image_url.url', /9000×9000 SVG/],
    ['four 8000² PNGs', chat(...[0, 1, 2, 3].map(() => image(url('image/png', png(8000, 8000))))), 413, 'messages[0].content[1].image_url.url', /8000×8000 PNG \(64,000,000 pixels\)/],
    ['a prompt of 130,000 words', { messages: [{ role: 'user', content: 'red '.repeat(130_000) }] }, 422, 'messages', /520,000 characters; no token of this model stands for more than \d+/],
    ['an image with no readable header', chat(image(url('image/png', 'not an image at all'))), 400, 'messages[0].content[1].image_url.url', /could not read the image's size from its header/],
  ];
  for (const [name, body, status, param, message] of cases) {
    const r = await s.post('/v1/chat/completions', body);
    assert.equal(r.status, status, `${name}: ${JSON.stringify(r.json).slice(0, 300)}`);
    assert.equal(r.json.error.param, param, name);
    assert.match(r.json.error.message, message, name);
  }
  // /generate names items by their data key; the long prompt is refused there too.
  const g = await s.post('/generate', { messages: [{ role: 'user', content: 'hi <image>' }], images: [url('image/png', png(1, 100_000))] });
  assert.equal(g.status, 400);
  assert.equal(g.json.error.param, 'images[0]');
  assert.equal((await s.post('/generate', { messages: [{ role: 'user', content: 'red '.repeat(130_000) }] })).status, 422);
  // A prompt under the character bound but over the context still gets the tokenizer's exact 422.
  const exact = await s.post('/generate', { messages: [{ role: 'user', content: 'hello world '.repeat(3000) }] });
  assert.equal(exact.status, 422);
  assert.match(exact.json.error.message, /the model's context is 2048/);
  // And the server still answers normally.
  const ok = await s.post('/v1/chat/completions', chat(image(url('image/png', patternPng([1, 2, 3])))));
  assert.equal(ok.status, 200, JSON.stringify(ok.json));
});

test('configured limits: post-resize size, pixels per request, audio seconds (WAV, MP3, base64), characters per request', async () => {
  // 2000×100 is 20:1 (allowed) but the resize to a 32-pixel short side makes it 640×32 = 20,480 pixels.
  const wide = await strict.post('/v1/chat/completions', chat(image(url('image/png', png(2000, 100)))));
  assert.equal(wide.status, 413, JSON.stringify(wide.json));
  assert.match(wide.json.error.message, /resize would make it 640×32 \(20,480 pixels\), over this server's 10,000 \(--max_resized_pixels\)/);
  // 50×50 images are 2,500 pixels each and a request may have 5,000: two fit exactly, a third does not.
  const three = chat(...[1, 2, 3].map(() => image(url('image/png', png(50, 50)))));
  const r3 = await strict.post('/v1/chat/completions', three);
  assert.equal(r3.status, 413);
  assert.equal(r3.json.error.param, 'messages[0].content[3].image_url.url');
  assert.match(r3.json.error.message, /--max_request_pixels/);
  assert.equal((await strict.post('/v1/chat/completions', chat(...[1, 2].map(() => image(url('image/png', png(50, 50))))))).status, 200);

  const audio = (data: Uint8Array, format = 'wav') => ({ type: 'input_audio', input_audio: { data: Buffer.from(data).toString('base64'), format } });
  const longWav = await strict.post('/v1/chat/completions', chat(audio(toneWav(440, 2.5))));
  assert.equal(longWav.status, 413, JSON.stringify(longWav.json));
  assert.equal(longWav.json.error.param, 'messages[0].content[1].input_audio.data');
  assert.match(longWav.json.error.message, /2\.5 s of audio; this server accepts at most 1 s per item \(--max_audio_seconds\)/);
  const mp3 = new Uint8Array(readFileSync(new URL('./fixtures/sine-440hz-22050-stereo.mp3', import.meta.url)));
  assert.equal((await strict.post('/v1/chat/completions', chat(audio(mp3, 'mp3')))).status, 413);
  assert.equal((await s.post('/v1/chat/completions', chat(audio(mp3, 'mp3')))).status, 200);
  // The seed's bare base64 audio item on /generate.
  const bare = await strict.post('/generate', { messages: [{ role: 'user', content: 'hi <speech>' }], speech_audios: [Buffer.from(toneWav(440, 2)).toString('base64')] });
  assert.equal(bare.status, 413, JSON.stringify(bare.json));
  assert.equal(bare.json.error.param, 'speech_audios[0]');
  assert.equal((await strict.post('/generate', { messages: [{ role: 'user', content: 'hi <speech>' }], speech_audios: [Buffer.from(toneWav(440, 0.5)).toString('base64')] })).status, 200);

  const chars = await strict.post('/generate', { messages: [{ role: 'user', content: 'x'.repeat(301) }] });
  assert.equal(chars.status, 413);
  assert.match(chars.json.error.message, /301 characters of text; this server accepts at most 300 \(--max_request_chars\)/);
});

test('pad-to-square modalities are charged for the padded square; documents for their characters', async () => {
  const lmm = await tinyServingModel();
  const vision = lmm.modalities.find((m) => m.dataKey === 'images')!;
  const padded = Object.assign(Object.create(Object.getPrototypeOf(vision)), vision, { options: { ...(vision as any).options, padToSquare: true } }) as Modality;
  const param = (k: string, i: number) => `${k}[${i}]`;
  const b = { ...DEFAULT_BUDGETS, maxImagePixels: 1_000_000 };
  // 1×100000 is 100,000 pixels, under the limit, but padded to a square it is 10^10.
  assert.throws(() => checkMediaBudgets({ messages: [], images: [png(1, 100_000)] }, [padded], b, param), /padded to a square it would be 10,000,000,000 pixels/);
  // Without padding, the aspect ratio refuses it; a square image passes both.
  assert.throws(() => checkMediaBudgets({ messages: [], images: [png(1, 100_000)] }, [vision], b, param), /aspect ratio/);
  checkMediaBudgets({ messages: [], images: [png(500, 500)] }, [padded], b, param);

  const documents = { dataKey: 'documents', toConfig: () => ({ kind: 'document_gte' }) } as unknown as Modality;
  const limits = { maxLength: 2048, longestTokenChars: 16 };
  const row = (...docs: unknown[]) => ({ messages: [{ role: 'user', content: 'read <document>' }], documents: docs });
  assert.throws(() => checkTextBudget(row('y'.repeat(201)), [documents], { ...b, maxDocumentChars: 200 }, limits, param), /documents\[0\] has 201 characters; .* 200 per document \(--max_document_chars\)/);
  assert.throws(() => checkTextBudget(row({ text: 'y'.repeat(150) }, 'z'.repeat(150)), [documents], { ...b, maxRequestChars: 250 }, limits, param), /315 characters of text/);
  checkTextBudget(row('y'.repeat(200)), [documents], { ...b, maxDocumentChars: 200 }, limits, param);
});

test('header readers: image sizes without decoding, audio durations without decoding', () => {
  assert.deepEqual(readImageHeader(png(3, 70_000)), { width: 3, height: 70_000, type: 'png' });
  assert.deepEqual(readImageHeader(new TextEncoder().encode(svg('viewBox="0 0 300 200"'))), { width: 300, height: 200, type: 'svg' });
  assert.equal(readImageHeader(new Uint8Array([1, 2, 3])), null);
  assert.deepEqual(readAudioDuration(toneWav(440, 2.5, 8000)), { seconds: 2.5, format: 'wav' });
  // A WAV whose data chunk claims more than the file holds is measured by what is there.
  const wav = toneWav(440, 1);
  new DataView(wav.buffer).setUint32(40, 0x7fffffff, true);
  assert.deepEqual(readAudioDuration(wav), { seconds: 1, format: 'wav' });
  // The MP3 fixture plays 1.07 s (ffprobe); frame counting includes the encoder's padding frames.
  const mp3 = readAudioDuration(new Uint8Array(readFileSync(new URL('./fixtures/sine-440hz-22050-stereo.mp3', import.meta.url))));
  assert.ok(mp3 && 'seconds' in mp3 && mp3.seconds >= 1.07 && mp3.seconds < 1.2, JSON.stringify(mp3));
  assert.equal(readAudioDuration(new TextEncoder().encode('OggS....')), null);
});
