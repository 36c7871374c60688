/**
 * Serving benchmark: requests/s and p50/p95 latency of `POST /v1/chat/completions` for 1, 8 and 32
 * concurrent clients (closed loop: each client sends its next request when the last one is answered), on a
 * tiny LMM over loopback, with batching (`--max_batch_size 8`) and one request at a time
 * (`--max_batch_size 1`). The batching gain is the ratio of the two throughputs at the same concurrency.
 *
 *   npx tsx bench/serve.ts [--backend wasm] [--hidden 256] [--layers 4] [--tokens 16] [--rounds 3] [--images]
 *
 * Every request generates exactly `--tokens` tokens (`ignore_eos`), greedy, so both settings do the same work.
 * Shared machines are noisy, so the two servers run in alternating rounds and each figure is the median over
 * rounds; `cpu_ms_per_request` (this process's CPU time per answered request, client included) is the figure
 * least disturbed by other load. Prints one JSON line.
 */
import * as os from 'node:os';
import { initRuntime } from '../node/runtime.js';
import { MemorySource } from '../src/io/source.js';
import { loadLMM } from '../src/lmm/load.js';
import type { LMM } from '../src/lmm/lmm.js';
import { makeTinyMultimodalFiles } from '../src/tiny/tiny-multimodal.js';
import { createServer } from '../node/server/app.js';

const arg = (name: string, def: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : def;
};
const backend = await initRuntime({ backend: arg('backend', 'wasm'), quiet: true });
const hidden = Number(arg('hidden', '256'));
const layers = Number(arg('layers', '4'));
const tokens = Number(arg('tokens', '16'));
const rounds = Number(arg('rounds', '3'));
const withImages = process.argv.includes('--images');
const LEVELS: [number, number][] = [[1, 6], [8, 24], [32, 64]]; // [concurrent clients, requests per round]

const files = await makeTinyMultimodalFiles({
  arch: 'llama', hiddenSize: hidden, intermediateSize: hidden * 2, numHiddenLayers: layers,
  numAttentionHeads: 8, numKeyValueHeads: 4, seed: 1, modalities: ['vision_clip'],
});
const enc = new TextEncoder();
const lmm: LMM = await loadLMM(new MemorySource(new Map([...files].map(([k, v]) => [k, typeof v === 'string' ? enc.encode(v) : v]))));

// A 2×2 PNG, so image requests exercise decoding, CLIP and the splice without dominating the time.
const PNG_2x2 = 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAYAAABytg0kAAAAEUlEQVR4AWM8AQQMQMDEAAUAMKYDJOk+9mYAAAAASUVORK5CYII=';

function body(i: number): string {
  const text = `Request ${i}: tell me something about the number ${i * 7}.`;
  const content = withImages ? [{ type: 'text', text }, { type: 'image_url', image_url: { url: PNG_2x2 } }] : text;
  return JSON.stringify({ model: 'tiny', messages: [{ role: 'user', content }], max_tokens: tokens, temperature: 0, ignore_eos: true });
}

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

interface Round { rps: number; p50: number; p95: number; cpu: number }

/** `requests` requests from `clients` closed-loop clients. */
async function level(url: string, clients: number, requests: number): Promise<Round> {
  let next = 0;
  const latencies: number[] = [];
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (next < requests) {
        const i = next++;
        const t = performance.now();
        const res = await fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: body(i) });
        const json = (await res.json()) as { usage?: { completion_tokens: number } };
        if (res.status !== 200 || json.usage?.completion_tokens !== tokens) throw new Error(`request ${i}: HTTP ${res.status} ${JSON.stringify(json)}`);
        latencies.push(performance.now() - t);
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  latencies.sort((a, b) => a - b);
  return { rps: requests / seconds, p50: pct(latencies, 50), p95: pct(latencies, 95), cpu: (cpu.user + cpu.system) / 1000 / requests };
}

const summary = (clients: number, rs: Round[]) => ({
  clients,
  rps: +median(rs.map((r) => r.rps)).toFixed(2),
  p50_ms: +median(rs.map((r) => r.p50)).toFixed(1),
  p95_ms: +median(rs.map((r) => r.p95)).toFixed(1),
  cpu_ms_per_request: +median(rs.map((r) => r.cpu)).toFixed(1),
});

const batchedServer = await createServer({ lmm, temperature: 0, maxBatchSize: 8, maxQueue: 1024 });
const singleServer = await createServer({ lmm, temperature: 0, maxBatchSize: 1, maxQueue: 1024 });
const urls = { batched: await batchedServer.listen({ host: '127.0.0.1', port: 0 }), single: await singleServer.listen({ host: '127.0.0.1', port: 0 }) };
for (const url of Object.values(urls)) await level(url, 2, 4); // warm-up: per-layer caches, wasm kernels, image decoder

const batched: ReturnType<typeof summary>[] = [];
const single: ReturnType<typeof summary>[] = [];
for (const [clients, requests] of LEVELS) {
  const b: Round[] = [];
  const o: Round[] = [];
  for (let r = 0; r < rounds; r++) {
    // Alternate which goes first, so a load spike from elsewhere does not always hit the same one.
    const order = r % 2 === 0 ? (['batched', 'single'] as const) : (['single', 'batched'] as const);
    for (const which of order) (which === 'batched' ? b : o).push(await level(urls[which], clients, requests));
  }
  batched.push(summary(clients, b));
  single.push(summary(clients, o));
}
await batchedServer.close();
await singleServer.close();

const gain = Object.fromEntries(batched.map((b, i) => [`c${b.clients}`, +(b.rps / single[i]!.rps).toFixed(2)]));
const cpuGain = Object.fromEntries(batched.map((b, i) => [`c${b.clients}`, +(single[i]!.cpu_ms_per_request / b.cpu_ms_per_request).toFixed(2)]));
console.log(JSON.stringify({
  bench: 'serve',
  backend,
  model: { hidden, layers, heads: 8, kv_heads: 4, vocab: lmm.lm.config.vocabSize, images: withImages },
  new_tokens: tokens,
  rounds,
  batched_max8: batched,
  one_at_a_time: single,
  batching_gain_rps: gain,
  batching_gain_cpu: cpuGain,
  machine: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, load: os.loadavg().map((x) => +x.toFixed(2)) },
  date: new Date().toISOString(),
}));
lmm.dispose();
