/**
 * KV-cache decoding vs full recomputation on a tiny Llama (wasm backend).
 * Prints one JSON line: tokens/s with and without the cache at 32/128/256 new tokens, the speedup, and the
 * per-token latency of the cached decoder early and late in a 256-token generation (flat = good).
 *
 *   npx tsx bench/decode.ts [--backend wasm|cpu|webgpu] [--hidden 256] [--layers 4]
 */
import * as os from 'node:os';
import { tf } from '../src/tf.js';
import { initRuntime } from '../node/runtime.js';
import { LlamaForCausalLM } from '../src/lm/llama.js';
import { generateNoCache, generateTokens } from '../src/lm/generate.js';
import { mapWeights, tinyLlama } from '../src/tiny/tiny-llama.js';

const arg = (name: string, def: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : def;
};
const backend = await initRuntime({ backend: arg('backend', 'wasm'), quiet: true });
const hidden = Number(arg('hidden', '256'));
const layers = Number(arg('layers', '4'));
const { config, weights } = tinyLlama({
  arch: 'llama', vocabSize: 512, hiddenSize: hidden, intermediateSize: hidden * 2.75, numHiddenLayers: layers,
  numAttentionHeads: 8, numKeyValueHeads: 4, eosTokenId: 2, maxPositionEmbeddings: 4096,
}, 1);
const lm = LlamaForCausalLM.fromWeights(config, mapWeights(weights));
const prompt = Array.from({ length: 16 }, (_, i) => 3 + i);

async function cached(n: number): Promise<{ seconds: number; perToken: number[] }> {
  const perToken: number[] = [];
  const t0 = performance.now();
  let last = t0;
  for await (const _ of generateTokens(lm, { inputIds: [prompt] }, { maxNewTokens: n, stopTokenIds: [] })) {
    const now = performance.now();
    perToken.push(now - last);
    last = now;
  }
  return { seconds: (performance.now() - t0) / 1000, perToken };
}

async function uncached(n: number): Promise<number> {
  const t0 = performance.now();
  await generateNoCache(lm, prompt, n, []);
  return (performance.now() - t0) / 1000;
}

await cached(4); // warm up kernels
await uncached(2);
const rows: Record<string, unknown>[] = [];
let latency = { first16_ms: 0, last16_ms: 0 };
for (const n of [32, 128, 256]) {
  const c = await cached(n);
  const u = await uncached(n);
  rows.push({ new_tokens: n, cached_tok_s: +(n / c.seconds).toFixed(1), no_cache_tok_s: +(n / u).toFixed(1), speedup: +(u / c.seconds).toFixed(1) });
  if (n === 256) {
    const med = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1];
    // perToken[0] includes the prompt prefill; the decode steps follow.
    latency = { first16_ms: +med(c.perToken.slice(1, 17)).toFixed(2), last16_ms: +med(c.perToken.slice(-16)).toFixed(2) };
  }
}
console.log(JSON.stringify({
  bench: 'decode', backend, model: { hidden, layers, heads: 8, kv_heads: 4, vocab: 512 }, prompt_tokens: prompt.length,
  results: rows, per_token_latency_at_256: latency,
  machine: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, load: os.loadavg().map((x) => +x.toFixed(2)) }, date: new Date().toISOString(),
}));
lm.dispose();
void tf;
