/**
 * Streamed loading into GPU buffers (src/webgpu/weight-upload.ts, weight-bytes.ts): chunk boundaries that cut
 * words, rows and tensors anywhere give bit-identical weights; over HTTP a checkpoint is read with range
 * requests, each byte once, in pieces far smaller than the file; a server that ignores ranges still works.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startNodeWebGPU } from './helpers/node-webgpu.js';
import { skipMissingTool } from './helpers/missing-tool.js';
import { MemorySource, UrlSource } from '../src/io/source.js';
import { loadWebGPULM } from '../src/webgpu/load-lm.js';
import { SourceWeightBytes, UrlWeightBytes, type WeightBytes } from '../src/webgpu/weight-bytes.js';
import { requestLMDevice, type LMDevice } from '../src/webgpu/gpu-context.js';
import type { WebGPULM } from '../src/webgpu/lm-engine.js';
import { tinyQuantized } from './helpers/tiny-quantized.js';

let skip: string | false = false;
let dev: LMDevice;
before(async () => {
  skip = await startNodeWebGPU();
  if (skip) return;
  dev = await requestLMDevice();
});

const PROMPT = Int32Array.of(5, 9, 14, 3, 27, 8);

async function logitsAndTokens(lm: WebGPULM): Promise<{ logits: Float32Array; tokens: number[] }> {
  const tokens: number[] = [];
  for await (const t of lm.generate(PROMPT, { maxNewTokens: 6, stopTokenIds: [] })) tokens.push(t);
  return { logits: await lm.debugLogits(), tokens };
}

/** Records what a WeightBytes hands out. */
class Counting implements WeightBytes {
  bytes = 0;
  biggest = 0;
  constructor(private readonly inner: WeightBytes) {}
  get location(): string {
    return this.inner.location;
  }
  size(name: string): Promise<number> {
    return this.inner.size(name);
  }
  readRange(name: string, start: number, end: number): Promise<Uint8Array> {
    return this.inner.readRange(name, start, end);
  }
  async *stream(name: string, start: number, end: number): AsyncIterable<Uint8Array> {
    for await (const c of this.inner.stream(name, start, end)) {
      this.bytes += c.length;
      this.biggest = Math.max(this.biggest, c.length);
      yield c;
    }
  }
}

// Sizes that divide nothing: K = 66 and 90 (rows not a multiple of 4 elements), an F32 embedding narrowed to f16.
const odd = () => tinyQuantized({ arch: 'qwen2', bits: 4, groupSize: 16, hiddenSize: 66, intermediateSize: 90, numAttentionHeads: 3, numKeyValueHeads: 1, seed: 4 });

test('chunks of 997 bytes (cutting words, rows and tensors) load the same weights as one piece', { timeout: 240_000 }, async (t) => {
  if (skip) return skipMissingTool(t, skip);
  const m = odd();
  const src = new MemorySource(m.files);
  const whole = await loadWebGPULM(src, { device: dev, maxSeq: 32, dtype: 'f16' });
  const counting = new Counting(new SourceWeightBytes(src, 997));
  const pieces = await loadWebGPULM(src, { device: dev, maxSeq: 32, dtype: 'f16', bytes: counting });
  try {
    assert.equal(whole.plan.embed.layout.format, 'f16');
    assert.equal(whole.plan.embed.layout.groupSize, 68, 'rows padded to a multiple of 4');
    const a = await logitsAndTokens(whole);
    const b = await logitsAndTokens(pieces);
    assert.deepEqual(b.tokens, a.tokens);
    assert.deepEqual(Array.from(b.logits), Array.from(a.logits), 'bit-identical logits');
    assert.equal(counting.biggest, 997);
    t.diagnostic(`${counting.bytes} bytes in chunks of at most ${counting.biggest}; tokens ${a.tokens.join(' ')}`);
  } finally {
    whole.dispose();
    pieces.dispose();
  }
});

interface Served {
  url: string;
  requests: { range: string | undefined; bytes: number }[];
  close(): Promise<void>;
}

/** Serves `files`, honouring `Range: bytes=a-b` unless `ranges` is false, in 4 KB writes. */
async function serve(files: Map<string, Uint8Array>, ranges: boolean): Promise<Served> {
  const requests: Served['requests'] = [];
  const server: Server = createServer((req, res) => {
    const name = decodeURIComponent((req.url ?? '/').slice(1));
    const body = files.get(name);
    if (!body) return void res.writeHead(404).end();
    const m = ranges ? /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '') : null;
    const start = m ? Number(m[1]) : 0;
    const end = m && m[2] ? Number(m[2]) + 1 : body.length;
    const part = body.subarray(start, end);
    requests.push({ range: req.headers.range, bytes: part.length });
    res.writeHead(m ? 206 : 200, { 'Content-Length': part.length, ...(m ? { 'Content-Range': `bytes ${start}-${end - 1}/${body.length}` } : {}) });
    if (req.method === 'HEAD') return void res.end();
    let at = 0;
    const pump = () => {
      while (at < part.length) {
        const piece = part.subarray(at, at + 4096);
        at += piece.length;
        if (!res.write(piece)) return void res.once('drain', pump);
      }
      res.end();
    };
    pump();
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    requests,
    close: () => new Promise((ok) => { server.closeAllConnections(); server.close(() => ok()); }),
  };
}

const servers: Served[] = [];
after(async () => {
  for (const s of servers) await s.close();
});

test('over HTTP: range requests, each weight byte read once, in small pieces; a server without ranges works too', { timeout: 240_000 }, async (t) => {
  if (skip) return skipMissingTool(t, skip);
  // A 1 MB file (a 4096-token F32 embedding): fetch bodies arrive in pieces of at most 64 KB.
  const m = tinyQuantized({ arch: 'llama', bits: 4, groupSize: 32, seed: 6, vocabSize: 4096 });
  const reference = await loadWebGPULM(new MemorySource(m.files), { device: dev, maxSeq: 32 });
  const want = await logitsAndTokens(reference);
  reference.dispose();
  const fileSize = m.files.get('model.safetensors')!.length;
  for (const ranges of [true, false]) {
    const s = await serve(m.files, ranges);
    servers.push(s);
    const counting = new Counting(new UrlWeightBytes(s.url));
    const lm = await loadWebGPULM(new UrlSource(s.url), { device: dev, maxSeq: 32, bytes: counting });
    try {
      const got = await logitsAndTokens(lm);
      assert.deepEqual(got.tokens, want.tokens);
      assert.deepEqual(Array.from(got.logits), Array.from(want.logits));
      const weightReqs = s.requests.filter((r) => r.range !== undefined);
      if (ranges) {
        // Header length, header, then the data area once.
        assert.equal(weightReqs.length, 3, JSON.stringify(s.requests));
        assert.ok(counting.bytes <= fileSize && counting.bytes > fileSize * 0.9, `${counting.bytes} of ${fileSize} bytes streamed`);
      }
      assert.ok(counting.biggest < fileSize / 4, `largest piece ${counting.biggest} of a ${fileSize}-byte file`);
      t.diagnostic(`${ranges ? 'with' : 'without'} ranges: ${s.requests.length} requests (${s.requests.map((r) => r.range ?? 'whole').join(', ')}), pieces ≤ ${counting.biggest} bytes of ${fileSize}`);
    } finally {
      lm.dispose();
    }
  }
});
