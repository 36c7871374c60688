/**
 * Real-size models on the Node CPU engine vs PyTorch, same weights, same machine, one interleaved run:
 * load time, peak RSS against the weights' in-memory bytes, prefill tokens/s (64-token prompt) and greedy
 * KV-cache decode tokens/s, for each (engine, dtype). Prints ONE JSON line.
 *
 *   npx tsx bench/scale.ts --model /work/bigmodels/qwen2-0.5b-f32 \
 *     [--configs wasm+onnxruntime:f32,wasm+onnxruntime:int8,wasm+onnxruntime:int4] [--torch f32,int8] \
 *     [--rounds 3] [--decode 32] [--prompt 64] [--torch-model FLOAT_DIR (when --model is quantized)]
 *
 * Each config is its own process (bench/scale-worker.ts), so its RSS (VmHWM) is its own; PyTorch
 * (bench/reference/decode_ref.py, `--threads` = cores) stays up for the whole run and is timed in alternation with
 * ours (A/B per round), so the shared machine's noise hits both. Models come from `multi-token make-tiny` at
 * real dimensions (see bench/RESULTS.md for the commands); run under `flock /tmp/mt-heavy.lock`.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const argv = process.argv.slice(2);
const opt = (name: string, def: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < argv.length ? argv[i + 1]! : def;
};
const model = opt('model', '');
if (!model) throw new Error('--model DIR is required (a make-tiny checkpoint at real dimensions)');
// PyTorch reads float weights: for a quantized --model, give its float original here.
const torchModel = opt('torch-model', model);
const configs = opt('configs', 'wasm+onnxruntime:f32,wasm+onnxruntime:int8,wasm+onnxruntime:int4').split(',').map((c) => {
  const [backend, dtype] = c.split(':');
  return { backend: backend!, dtype: dtype ?? 'f32' };
});
const torchModes = opt('torch', 'f32,int8').split(',').filter(Boolean);
const ROUNDS = Number(opt('rounds', '3'));
const DECODE = Number(opt('decode', '32'));
const PROMPT = Number(opt('prompt', '64'));
const here = path.dirname(fileURLToPath(import.meta.url));
const log = (s: string) => process.stderr.write(`[scale] ${s}\n`);
const median = (a: number[]) => {
  const s = [...a].sort((x, y) => x - y);
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const r3 = (x: number) => Number(x.toPrecision(3));

type Reply = Record<string, unknown>;
async function startProcess(cmd: string, args: string[], label: string) {
  const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const next = async () => {
    const r = await lines.next();
    if (r.done) throw new Error(`${label} exited early (see its stderr above)`);
    return JSON.parse(r.value as string) as Reply;
  };
  const ready = await next();
  return {
    ready,
    async call(c: Reply) {
      child.stdin!.write(JSON.stringify(c) + '\n');
      return next();
    },
    async quit() {
      child.stdin!.end(JSON.stringify({ cmd: 'quit' }) + '\n');
      await new Promise((res) => child.once('exit', res));
    },
  };
}

const config = JSON.parse(readFileSync(path.join(model, 'config.json'), 'utf8')) as Record<string, number | boolean>;
const tokVocab = Object.keys((JSON.parse(readFileSync(path.join(model, 'tokenizer.json'), 'utf8')) as { model: { vocab: object } }).model.vocab).length;
let seed = 12345;
const prompt = Array.from({ length: PROMPT }, () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % tokVocab);

const python = process.env.PYTHON ?? '/usr/bin/python3';
const threads = availableParallelism();
const torch = new Map<string, Awaited<ReturnType<typeof startProcess>>>();
for (const mode of torchModes) {
  log(`starting PyTorch ${mode}`);
  torch.set(mode, await startProcess(python, [path.join(here, 'reference', 'decode_ref.py'), torchModel, '--threads', String(threads), ...(mode === 'int8' ? ['--int8'] : [])], `decode_ref.py ${mode}`));
}

const torchTimes = new Map<string, { prefill: number[]; decode: number[]; decodeCpu: number[]; ids?: number[] }>([...torch.keys()].map((k) => [k, { prefill: [], decode: [], decodeCpu: [] }]));
const results: Reply[] = [];
const loads: number[][] = [];
for (const c of configs) {
  log(`loading ours: ${c.backend} ${c.dtype}`);
  const ours = await startProcess('npx', ['tsx', path.join(here, 'scale-worker.ts'), model, '--backend', c.backend, '--dtype', c.dtype], `scale-worker ${c.backend} ${c.dtype}`);
  const prefill: number[] = [];
  const decode: number[] = [];
  const decodeCpu: number[] = [];
  let ids: number[] = [];
  let peak = Number(ours.ready.peak_rss_mb);
  let ortRuns = 0;
  // Warm-up (first-call session creation, page faults): not timed.
  await ours.call({ cmd: 'decode', ids: prompt, n: 2 });
  if (results.length === 0) for (const [, t] of torch) await t.call({ cmd: 'decode', ids: prompt, n: 2 });
  for (let r = 0; r < ROUNDS; r++) {
    loads.push(loadavg());
    prefill.push(Number((await ours.call({ cmd: 'prefill', ids: prompt })).s));
    for (const [mode, t] of torch) torchTimes.get(mode)!.prefill.push(Number((await t.call({ cmd: 'prefill', ids: prompt })).s));
    const d = await ours.call({ cmd: 'decode', ids: prompt.slice(0, 8), n: DECODE });
    decode.push(Number(d.s));
    decodeCpu.push(Number(d.cpu_s));
    ids = d.ids as number[];
    peak = Math.max(peak, Number(d.peak_rss_mb));
    ortRuns = Number(d.ort_runs_per_token);
    for (const [mode, t] of torch) {
      const td = await t.call({ cmd: 'decode', ids: prompt.slice(0, 8), n: DECODE });
      torchTimes.get(mode)!.decode.push(Number(td.s));
      torchTimes.get(mode)!.decodeCpu.push(Number(td.cpu_s));
      torchTimes.get(mode)!.ids = td.ids as number[];
    }
    const torchNow = [...torchTimes].map(([m, t]) => `pytorch ${m} ${(DECODE / t.decode.at(-1)!).toFixed(2)} tok/s`).join(', ');
    log(`${c.backend} ${c.dtype} round ${r + 1}: prefill ${prefill.at(-1)!.toFixed(3)} s, decode ${(DECODE / decode.at(-1)!).toFixed(2)} tok/s (${torchNow})`);
  }
  await ours.quit();
  const weightsMb = Number(ours.ready.weights_tfjs_mb) + Number(ours.ready.weights_engine_mb);
  const oursDecodeTps = DECODE / median(decode);
  const oursPrefillTps = PROMPT / median(prefill);
  const vs: Reply = {};
  for (const [mode, t] of torchTimes) {
    const tDecode = DECODE / median(t.decode.slice(-ROUNDS));
    const tPrefill = PROMPT / median(t.prefill.slice(-ROUNDS));
    const agree = t.ids ? ids.filter((x, i) => x === t.ids![i]).length / ids.length : null;
    const cpuRatio = median(t.decodeCpu.slice(-ROUNDS)) / median(decodeCpu);
    vs[`pytorch_${mode}`] = {
      decode_tokens_per_s: r3(tDecode), prefill_tokens_per_s: r3(tPrefill),
      decode_ratio_ours_over_pytorch: r3(oursDecodeTps / tDecode), prefill_ratio_ours_over_pytorch: r3(oursPrefillTps / tPrefill),
      decode_cpu_time_ratio_pytorch_over_ours: r3(cpuRatio), greedy_agreement: agree,
    };
  }
  results.push({
    backend: c.backend,
    dtype: c.dtype,
    load_s: r3(Number(ours.ready.load_s)),
    weights_mb: r3(weightsMb),
    weights_tfjs_mb: r3(Number(ours.ready.weights_tfjs_mb)),
    rss_after_load_mb: r3(Number(ours.ready.rss_mb)),
    peak_rss_mb: r3(peak),
    peak_rss_over_weights: r3(peak / weightsMb),
    prefill_tokens_per_s: r3(oursPrefillTps),
    decode_tokens_per_s: r3(oursDecodeTps),
    ort_runs_per_token: ortRuns,
    ...vs,
  });
}
const torchInfo: Reply = {};
for (const [mode, t] of torch) {
  torchInfo[mode] = { load_s: r3(Number(t.ready.load_s)), rss_after_load_mb: r3(Number(t.ready.rss_mb)), peak_rss_mb: r3(Number(t.ready.peak_rss_mb)), threads: t.ready.threads, torch: t.ready.torch, quantized_engine: t.ready.quantized_engine };
  await t.quit();
}
const params = { hidden: config.hidden_size, intermediate: config.intermediate_size, layers: config.num_hidden_layers, heads: config.num_attention_heads, kv_heads: config.num_key_value_heads, vocab: config.vocab_size, tied: config.tie_word_embeddings };
process.stdout.write(JSON.stringify({
  bench: 'scale', model, torch_model: torchModel, shape: params, prompt_tokens: PROMPT, decode_tokens: DECODE, rounds: ROUNDS, results, pytorch: torchInfo,
  machine: { cpus: threads, load_during: loads.map((l) => r3(l[0]!)) }, date: new Date().toISOString(),
}) + '\n');
