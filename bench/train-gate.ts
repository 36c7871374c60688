/**
 * The two ways the trainer finishes a step (src/train/trainer.ts), timed against each other on one backend:
 *
 * - host (what cpu/wasm use): the gradient norm read back, gradients scaled only when it is above the limit,
 *   AdamW skipped on a non-finite step by the CPU;
 * - device (what GPU backends use, where a read would stall the queue): clipping computed on the device (every
 *   gradient scaled by min(1, max/(norm+1e-6))) and the AdamW update gated on "every step so far was finite"
 *   by a `where` per parameter, moment and update.
 *
 * Parameter shapes are bench/train-step.ts's full finetune (tiny Llama, hidden 256, 4 layers, 3.25 M
 * parameters). A and B alternate; prints one JSON line with the medians and their ratio.
 *
 *   npx tsx bench/train-gate.ts [--backend wasm|cpu|webgpu] [--rounds 10]
 */
import { tf, type Tensor } from '../src/tf.js';
import { selectNodeBackend, backendFlag } from '../node/backend.js';
import { AdamW } from '../src/train/adamw.js';
import { clipGradNorm, clipGradsBy, globalGradNorm } from '../src/train/grad-utils.js';
import { Rng } from '../src/util/rng.js';

const rounds = Number(process.argv[process.argv.indexOf('--rounds') + 1]) || 10;
const sel = await selectNodeBackend({ force: backendFlag() ?? 'wasm', quiet: true });

// bench/train-step.ts's model: vocab 512, hidden 256, intermediate 688, 4 layers, 8 heads / 4 KV heads (head 32).
const H = 256, I = 688, V = 512, KV = 128;
const shapes: number[][] = [[V, H], [V, H], [H]];
for (let l = 0; l < 4; l++) shapes.push([H, H], [KV, H], [KV, H], [H, H], [I, H], [I, H], [H, I], [H], [H]);
shapes.push([H, 64], [H], [H, H], [H]); // the patch projector

const rng = new Rng(1);
const rand = (shape: number[]) => tf.tensor(Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.next() - 0.5), shape);
const params = new Map(shapes.map((s, i) => [`p${i}`, tf.variable(rand(s), true, `bench_gate_${i}`)]));
const grads = new Map<string, Tensor>(shapes.map((s, i) => [`p${i}`, rand(s)]));
const count = shapes.reduce((n, s) => n + s.reduce((a, b) => a * b, 1), 0);

const hostOpt = new AdamW({ weightDecay: 0.01 });
const deviceOpt = new AdamW({ weightDecay: 0.01 });

/** One timed step end; waits for the parameters' values so every backend has finished. */
async function time(run: () => Promise<void>): Promise<number> {
  const t0 = performance.now();
  await run();
  await Promise.all([...params.values()].map((p) => p.data()));
  return performance.now() - t0;
}

const copy = () => new Map([...grads].map(([k, v]) => [k, v.clone()]));
const runHost = async () => {
  const g = copy();
  const norm = globalGradNorm(g.values());
  const [n] = await norm.data();
  clipGradsBy(g, n, 1);
  if (Number.isFinite(n)) hostOpt.apply(params, g, 1e-3);
  tf.dispose([...g.values(), norm]);
};
const runDevice = async () => {
  const g = copy();
  const norm = clipGradNorm(g, 1);
  const finite = tf.tidy(() => tf.all(tf.isFinite(norm)));
  deviceOpt.apply(params, g, 1e-3, undefined, finite);
  tf.dispose([...g.values(), norm, finite]);
};
await time(runHost);
await time(runDevice);
const a: number[] = [];
const b: number[] = [];
for (let r = 0; r < rounds; r++) {
  a.push(await time(runHost));
  b.push(await time(runDevice));
}
const median = (x: number[]) => [...x].sort((p, q) => p - q)[Math.floor(x.length / 2)];
const [ma, mb] = [median(a), median(b)];
console.log(JSON.stringify({
  bench: 'train-gate',
  backend: sel.name,
  params: count,
  tensors: shapes.length,
  rounds,
  host_ms: Number(ma.toFixed(2)),
  device_ms: Number(mb.toFixed(2)),
  ratio_device_over_host: Number((mb / ma).toFixed(3)),
  extra_ms: Number((mb - ma).toFixed(2)),
  date: new Date().toISOString(),
}));
