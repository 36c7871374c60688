/**
 * Our side of bench/scale.ts, one process per (engine, dtype) so its RSS is its own: loads a checkpoint with
 * `loadLMM` and answers the same JSON-lines protocol as bench/reference/decode_ref.py (prefill, greedy KV-cache
 * decode), so the two can be interleaved.
 *
 *   npx tsx bench/scale-worker.ts MODEL_DIR --backend wasm+onnxruntime --dtype int4
 */
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { tf } from '../src/tf.js';
import { initRuntime } from '../node/runtime.js';
import { openSource } from '../node/folder-source.js';
import { loadLMM } from '../src/lmm/load.js';
import type { WeightDType } from '../src/nn/frozen-weight.js';
import { ortStats } from '../node/ort/binding.js';

const argv = process.argv.slice(2);
const opt = (name: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
};
const rssMb = (field = 'VmRSS') => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? NaN) / 1024;

const model = argv[0]!;
const t0 = performance.now();
await initRuntime({ backend: opt('backend'), quiet: true });
const lmm = await loadLMM(model, { open: openSource, dtype: opt('dtype') as WeightDType | undefined });
const loadS = (performance.now() - t0) / 1000;
const bytes = lmm.lm.weightBytes();
process.stdout.write(JSON.stringify({
  ready: true, load_s: loadS, rss_mb: rssMb(), peak_rss_mb: rssMb('VmHWM'), backend: tf.getBackend(),
  weights_tfjs_mb: bytes.tfjs / 2 ** 20, weights_engine_mb: bytes.frozen / 2 ** 20,
}) + '\n');

const lm = lmm.lm;
const lastLogits = (ids: number[], cache: ReturnType<typeof lm.newCache>) =>
  tf.tidy(() => lm.forward({ inputIds: tf.tensor2d([ids], [1, ids.length], 'int32'), cache, logits: 'last' }).logits!.reshape([-1]));
const argmax = async (t: tf.Tensor) => {
  const v = (await t.data()) as Float32Array;
  t.dispose();
  let best = 0;
  for (let i = 1; i < v.length; i++) if (v[i]! > v[best]!) best = i;
  return best;
};

for await (const line of createInterface({ input: process.stdin })) {
  const cmd = JSON.parse(line) as { cmd: string; ids?: number[]; n?: number };
  if (cmd.cmd === 'quit') break;
  const cache = lm.newCache(1);
  const cpu0 = process.cpuUsage();
  const cpuS = () => {
    const c = process.cpuUsage(cpu0);
    return (c.user + c.system) / 1e6;
  };
  if (cmd.cmd === 'prefill') {
    const s = performance.now();
    const next = await argmax(lastLogits(cmd.ids!, cache));
    process.stdout.write(JSON.stringify({ s: (performance.now() - s) / 1000, cpu_s: cpuS(), next }) + '\n');
  } else if (cmd.cmd === 'decode') {
    let logits = lastLogits(cmd.ids!, cache);
    const out: number[] = [];
    const runs0 = ortStats.runs;
    await logits.data();
    const c0 = cpuS();
    const s = performance.now();
    for (let i = 0; i < cmd.n!; i++) {
      const next = await argmax(logits);
      out.push(next);
      logits = lastLogits([next], cache);
    }
    const secs = (performance.now() - s) / 1000;
    logits.dispose();
    process.stdout.write(JSON.stringify({ s: secs, cpu_s: cpuS() - c0, ids: out, peak_rss_mb: rssMb('VmHWM'), ort_runs_per_token: (ortStats.runs - runs0) / cmd.n! }) + '\n');
  }
  cache.dispose?.();
}
lmm.dispose();
