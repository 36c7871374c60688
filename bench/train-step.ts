/**
 * One full-finetune optimizer step of a tiny LMM — ours (`Trainer.step()`: collate → features → variableGrads of
 * `LMM.loss` → clip → AdamW) on the default Node engine (wasm + onnxruntime; `--backend` picks another) vs the same model, weights, batch and step in
 * PyTorch CPU (`bench/reference/train_step_ref.py`, float32, AdamW). Prints ONE JSON line: median step times,
 * tokens/s, the ratio ours/PyTorch (goal ≤ 1.5×, DESIGN.md "Performance targets"), a numerical agreement
 * check (first-step loss, and the loss on the same batch after one AdamW step), and our top kernels.
 *
 * The modality is a patch projector on precomputed features (`[1, 64, 64]` per item → `mlp2x_gelu` → 64 LM
 * tokens), so no encoder is in the timing — like training with a feature cache.
 *
 *   npx tsx bench/train-step.ts [--quick] [--backend auto|wasm|cpu|…] [--rounds 5] [--steps 2] [--profile-detail]
 *
 * `--quick`: tiny shapes for a smoke run (< 60 s). `--rounds`/`--steps`: A/B interleaving (each round runs
 * `steps` of ours, then of PyTorch at all cores, then at 1 thread). `--profile-detail`: also log our 25 most
 * expensive kernels by input shapes to stderr. Wall and CPU medians are both reported: on a shared machine
 * the CPU times of the single-threaded sides are the steadier comparison.
 *
 * PyTorch comes from Debian (`python3-torch`, BLAS `libopenblas0-pthread`); when torch does not import, or runs
 * on the reference BLAS, the packages are installed with apt (sudo when not root). `$PYTHON` picks the python.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { tf, type Tensor } from '../src/tf.js';
import { initRuntime } from '../node/runtime.js';
import { ortEngineActive } from '../node/ort/engine.js';
import { ortThreads } from '../node/ort/binding.js';
import { FolderSource } from '../node/folder-source.js';
import { loadLMM } from '../src/lmm/load.js';
import { LMM } from '../src/lmm/lmm.js';
import { makeTinyLMFiles } from '../src/tiny/tiny-lmm.js';
import { TINY_CORPUS } from '../src/tiny/corpus.js';
import type { ProjectorSpec } from '../src/projector/projector.js';
import type { Modality, ModalityConfig } from '../src/modality/modality.js';
import { collate, type Batch } from '../src/data/collate.js';
import { Trainer } from '../src/train/trainer.js';
import { serializeSafetensors, type RawTensor } from '../src/io/safetensors.js';
import { tensorToRaw } from '../src/io/weights.js';
import { Rng } from '../src/util/rng.js';
import { initProjector } from '../src/projector/index.js';

const argv = process.argv.slice(2);
const flag = (name: string) => argv.includes(`--${name}`);
const opt = (name: string, def: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < argv.length ? argv[i + 1] : def;
};
const quick = flag('quick');
const S = quick
  ? { hidden: 64, layers: 2, inter: 172, heads: 4, kvHeads: 2, vocab: 512, batch: 2, seq: 64, patches: 16, featDim: 32 }
  : { hidden: 256, layers: 4, inter: 688, heads: 8, kvHeads: 4, vocab: 512, batch: 8, seq: 256, patches: 64, featDim: 64 };
const ROUNDS = Number(opt('rounds', quick ? '2' : '5'));
const STEPS = Number(opt('steps', '2')); // steps per side per round (A/B interleaved)
const WARMUP = quick ? 1 : 2;
const LR = 1e-3;
const WEIGHT_DECAY = 0.01;
const MAX_GRAD_NORM = 1.0;
const SEED = 7;
const here = path.dirname(fileURLToPath(import.meta.url));
const PYTHON = process.env.PYTHON ?? '/usr/bin/python3';
const log = (s: string) => process.stderr.write(`[train-step] ${s}\n`);
const median = (a: number[]) => {
  const s = [...a].sort((x, y) => x - y);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const r4 = (x: number) => Number(x.toPrecision(4));

// ------------------------------------------------------------------------------------------- PyTorch setup

function probeTorch(): { ok: boolean; openblas: boolean; why: string } {
  const code = 'import torch,sys\ntorch.ones(4,4)@torch.ones(4,4)\nprint(any("openblas" in l for l in open("/proc/self/maps")))';
  const r = spawnSync(PYTHON, ['-c', code], { encoding: 'utf8' });
  if (r.status !== 0) return { ok: false, openblas: false, why: (r.stderr || String(r.error)).trim().split('\n').pop() ?? '' };
  return { ok: true, openblas: r.stdout.trim() === 'True', why: '' };
}

/** Debian's torch, on OpenBLAS (its default libblas.so.3 is the slow reference BLAS, which would flatter us). */
function ensureTorch(): void {
  const p = probeTorch();
  if (p.ok && p.openblas) return;
  const pkgs = p.ok ? ['libopenblas0-pthread'] : ['python3-torch', 'libopenblas0-pthread'];
  log(p.ok ? 'torch runs on the reference BLAS; installing OpenBLAS' : `torch unavailable (${p.why}); installing ${pkgs.join(' ')}`);
  const sudo = process.getuid?.() === 0 ? [] : ['sudo'];
  const run = (args: string[]) => {
    const r = spawnSync(sudo.length ? 'sudo' : args[0], sudo.length ? args : args.slice(1), {
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
    if (r.status !== 0) throw new Error(`${args.join(' ')} failed (exit ${r.status})`);
  };
  run(['apt-get', 'install', '-y', '--no-install-recommends', ...pkgs]);
  const after = probeTorch();
  if (!after.ok) throw new Error(`torch still does not import with ${PYTHON}: ${after.why}`);
  if (!after.openblas) log('warning: torch still does not load OpenBLAS (check update-alternatives libblas.so.3)');
}

/** The reference as a child process speaking one JSON line per command, so A and B can interleave. */
async function startReference(dir: string) {
  const child = spawn(PYTHON, [path.join(here, 'reference', 'train_step_ref.py'), dir, '--serve'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const next = async () => {
    const r = await lines.next();
    if (r.done) throw new Error('train_step_ref.py exited early (see its stderr above)');
    return JSON.parse(r.value as string) as Record<string, unknown>;
  };
  const ready = await next();
  return {
    info: ready,
    async call(cmd: Record<string, unknown>) {
      child.stdin!.write(JSON.stringify(cmd) + '\n');
      return next();
    },
    close() {
      child.stdin!.end(JSON.stringify({ cmd: 'quit' }) + '\n');
    },
  };
}

// ----------------------------------------------------------------------------------------------- the model

/** Precomputed features through a LLaVA patch projector: `[items, patches, featDim]` → `patches` LM tokens. */
class FeatureModality implements Modality<number[]> {
  readonly name = 'vision';
  readonly token = '<image>';
  readonly dataKey = 'images';
  readonly tokenWidth = S.patches;
  readonly projectorSpec: ProjectorSpec = { type: 'patch_mlp', inputSize: S.featDim, layers: 2 };
  async preprocess(values: unknown[]): Promise<number[]> {
    return values as number[];
  }
  async encode(): Promise<Tensor[]> {
    throw new Error('bench: features are precomputed (Trainer hooks.features)');
  }  toConfig(): ModalityConfig {
    return { kind: 'bench_features', name: this.name, token: this.token, dataKey: this.dataKey };
  }
}

async function main() {
  const backend = await initRuntime({ backend: opt('backend', 'auto'), quiet: true });
  ensureTorch();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'train-step-'));
  try {
    // LM files (config.json, model.safetensors, tokenizer) → disk; both sides load these bytes.
    const files = await makeTinyLMFiles({
      arch: 'llama', hiddenSize: S.hidden, intermediateSize: S.inter, numHiddenLayers: S.layers, numAttentionHeads: S.heads,
      numKeyValueHeads: S.kvHeads, vocabSize: S.vocab, maxPositionEmbeddings: 4096, seed: SEED,
    });
    for (const [k, v] of files) await writeFile(path.join(dir, k), v);
    // Full finetune: the LM's weights are trainable tfjs variables (not engine-held frozen weights).
    const base = await loadLMM(new FolderSource(dir), { trainableLM: true });
    const modality = new FeatureModality();
    const rng = new Rng(SEED + 1);
    const projector = initProjector(modality.projectorSpec, S.hidden, () => rng.next());
    const projRaw = new Map<string, RawTensor>();
    for (const [k, v] of projector.parameters()) projRaw.set(k, await tensorToRaw(v));
    await writeFile(path.join(dir, 'projector.safetensors'), serializeSafetensors(projRaw));
    const lmm = new LMM(base.lm, base.tokenizer, [modality], [projector]);

    // Rows: an image then a long assistant reply, so every row truncates to exactly `seq` tokens.
    const text = (i: number, n: number) => Array.from({ length: n }, (_, j) => TINY_CORPUS[(i * 5 + j) % TINY_CORPUS.length]).join(' ');
    const rows = Array.from({ length: S.batch }, (_, i) =>
      lmm.encodeRow({ id: `r${i}`, messages: [{ role: 'user', content: `<image>\nDescribe picture ${i}.` }, { role: 'assistant', content: text(i, 12) }], images: [i] }, {}, i),
    );
    for (const r of rows) if (r.inputIds.length < S.seq) throw new Error(`row ${r.id} has only ${r.inputIds.length} tokens`);
    const feats = rows.map((_, i) => {
      const r = new Rng(SEED * 100 + i);
      return tf.tensor3d(Float32Array.from({ length: S.patches * S.featDim }, () => r.normal()), [1, S.patches, S.featDim]);
    });
    const byId = new Map(rows.map((r, i) => [r.id, feats[i]]));
    const features = async (b: Batch) => [tf.concat(b.ids.map((id) => byId.get(id)!), 0)];

    const trainable = new Map([...lmm.projectorParameters(), ...lmm.lm.parameters()]); // full finetune
    const trainer = new Trainer(lmm, rows, trainable, {
      numTrainEpochs: 1, maxSteps: 1_000_000, batchSize: S.batch, gradientAccumulationSteps: 1, learningRate: LR,
      weightDecay: WEIGHT_DECAY, warmupRatio: 0, scheduler: 'constant', maxGradNorm: MAX_GRAD_NORM, seed: SEED,
      modelMaxLength: S.seq, loggingSteps: 1, saveSteps: 0,
    }, { features });

    // The first step's batch, exactly as the trainer will collate it, for the reference.
    const { batch: batch0, skipped } = collate(trainer.microBatches(0)[0].map((i) => rows[i]), { maxLength: S.seq, padTokenId: lmm.tokenizer.padTokenId, tokenWidths: lmm.tokenWidths });
    if (!batch0 || skipped.length) throw new Error(`collate skipped rows: ${JSON.stringify(skipped)}`);
    if (batch0.inputIds.length !== S.batch || batch0.attentionMask.some((m) => m.length !== S.seq || m.includes(0))) {
      throw new Error('bench batch is not exactly batch × seq real tokens');
    }
    const f0 = await features(batch0);
    await writeFile(path.join(dir, 'features.safetensors'), serializeSafetensors(new Map([['features', await tensorToRaw(f0[0]!)]])));
    const T = S.seq;
    await writeFile(path.join(dir, 'batch.json'), JSON.stringify({
      token_ids: Array.from({ length: S.batch }, (_, b) => Array.from(batch0.layout.tokenIds.subarray(b * T, (b + 1) * T))),
      source_rows: Array.from(batch0.layout.sourceRows),
      labels: batch0.labels, attention_mask: batch0.attentionMask, lr: LR, weight_decay: WEIGHT_DECAY, max_grad_norm: MAX_GRAD_NORM,
      projector_name: modality.name,
    }));
    const ref = await startReference(dir);
    const cpus = os.cpus().length;

    // Numerical agreement: step 1 loss, then the loss on the same batch after that AdamW step.
    const s1 = await trainer.step();
    const loss1 = tf.tidy(() => lmm.loss(batch0, f0, false).dataSync()[0]);
    const pt = (await ref.call({ cmd: 'check', threads: cpus })) as { loss0: number; loss1: number; grad_norm: number };
    const rel = (a: number, b: number) => Math.abs(a - b) / Math.abs(b);
    const check = {
      loss0_ours: s1.loss, loss0_pytorch: pt.loss0, loss0_rel_diff: r4(rel(s1.loss, pt.loss0)),
      grad_norm_ours: r4(s1.gradNorm), grad_norm_pytorch: r4(pt.grad_norm),
      loss_after_step_ours: loss1, loss_after_step_pytorch: pt.loss1, loss_after_step_rel_diff: r4(rel(loss1, pt.loss1)),
    };
    const agree = check.loss0_rel_diff <= 1e-4 && check.loss_after_step_rel_diff <= 1e-3;
    log(`check: ${JSON.stringify(check)}`);

    // Warm up, then A/B interleaved rounds: ours ×STEPS, PyTorch(all cores) ×STEPS, PyTorch(1 thread) ×STEPS.
    for (let i = 0; i < WARMUP; i++) await trainer.step();
    await ref.call({ cmd: 'time', threads: cpus, steps: WARMUP });
    await ref.call({ cmd: 'time', threads: 1, steps: 1 });
    // Wall time is the measure; CPU time is kept too because on a shared, oversubscribed machine it is far less
    // noisy for the single-threaded sides (ours, PyTorch at 1 thread). PyTorch's CPU time sums all its threads.
    const ours: number[] = [];
    const oursCpu: number[] = [];
    const ptN: number[] = [];
    const ptNCpu: number[] = [];
    const pt1: number[] = [];
    const pt1Cpu: number[] = [];
    const loads: number[] = [];
    const timeRef = async (threads: number, wall: number[], cpu: number[]) => {
      const r = (await ref.call({ cmd: 'time', threads, steps: STEPS })) as { seconds: number[]; cpu_seconds: number[] };
      wall.push(...r.seconds);
      cpu.push(...r.cpu_seconds);
    };
    for (let r = 0; r < ROUNDS; r++) {
      loads.push(os.loadavg()[0]);
      for (let i = 0; i < STEPS; i++) {
        const t0 = performance.now();
        const c0 = process.cpuUsage();
        await trainer.step();
        ours.push((performance.now() - t0) / 1000);
        const c = process.cpuUsage(c0);
        oursCpu.push((c.user + c.system) / 1e6);
      }
      await timeRef(cpus, ptN, ptNCpu);
      await timeRef(1, pt1, pt1Cpu);
      log(`round ${r + 1}/${ROUNDS} (load ${loads[r].toFixed(1)}): ours ${ours.slice(-STEPS).map((x) => x.toFixed(3))} s, pytorch×${cpus} ${ptN.slice(-STEPS).map((x) => x.toFixed(3))} s, pytorch×1 ${pt1.slice(-STEPS).map((x) => x.toFixed(3))} s`);
    }
    ref.close();

    // Where our time goes: kernel times of one profiled step, summed by kernel name (forward and backward).
    const prof = await tf.profile(async () => {
      await trainer.step();
    });
    const byKernel = new Map<string, { ms: number; calls: number }>();
    for (const k of prof.kernels) {
      const e = byKernel.get(k.name) ?? { ms: 0, calls: 0 };
      e.ms += k.kernelTimeMs as number;
      e.calls++;
      byKernel.set(k.name, e);
    }
    const kernelTotal = [...byKernel.values()].reduce((s, e) => s + e.ms, 0);
    // tfjs-backend-wasm runs a matmul on XNNPACK only when both operands have batch 1 (after our transpose
    // wrapper); batched ones (attention, [B·KVH, ·, ·]) take its scalar `slow_batch_matmul` loop.
    const mm = { xnnpack_batch1_ms: 0, batched_loop_ms: 0, batched_calls: 0 };
    const byShape = new Map<string, { ms: number; calls: number }>();
    for (const k of prof.kernels) {
      const shapes = k.inputShapes.map((x) => `[${x ?? ''}]`).join('×');
      const key = `${k.name} ${shapes}`;
      const e = byShape.get(key) ?? { ms: 0, calls: 0 };
      e.ms += k.kernelTimeMs as number;
      e.calls++;
      byShape.set(key, e);
      if (k.name === 'BatchMatMul') {
        const batch = (x: number[] | null) => (x ?? []).slice(0, -2).reduce((a, c) => a * c, 1);
        if (batch(k.inputShapes[0]) > 1 || batch(k.inputShapes[1]) > 1) {
          mm.batched_loop_ms += k.kernelTimeMs as number;
          mm.batched_calls++;
        } else mm.xnnpack_batch1_ms += k.kernelTimeMs as number;
      }
    }
    if (flag('profile-detail')) {
      for (const [key, e] of [...byShape].sort((a, b) => b[1].ms - a[1].ms).slice(0, 25)) log(`${e.ms.toFixed(1).padStart(8)} ms ${String(e.calls).padStart(4)}× ${key}`);
    }
    const top = [...byKernel].sort((a, b) => b[1].ms - a[1].ms).slice(0, 5)
      .map(([name, e]) => ({ kernel: name, ms: Math.round(e.ms), calls: e.calls, share: r4(e.ms / kernelTotal) }));

    const tokens = S.batch * S.seq;
    const mOurs = median(ours);
    const mN = median(ptN);
    const m1 = median(pt1);
    const best = Math.min(mN, m1);
    console.log(JSON.stringify({
      bench: 'train-step', quick,
      model: { arch: 'llama', hidden: S.hidden, layers: S.layers, intermediate: S.inter, heads: S.heads, kv_heads: S.kvHeads, vocab: lmm.lm.config.vocabSize,
        params: [...trainable.values()].reduce((s, v) => s + v.size, 0),
        modality: `precomputed features [1, ${S.patches}, ${S.featDim}] per item → patch MLP (mlp2x_gelu) → ${S.patches} tokens; no encoder in the timing` },
      batch: S.batch, seq: S.seq, tokens_per_step: tokens, step: `full finetune: forward + backward + clip ${MAX_GRAD_NORM} + AdamW (lr ${LR}, wd ${WEIGHT_DECAY}), float32`,
      ours: { backend, engine: ortEngineActive() ? 'onnxruntime' : null, threads: ortEngineActive() ? ortThreads() : 1, median_s: r4(mOurs), tokens_per_s: Math.round(tokens / mOurs), median_cpu_s: r4(median(oursCpu)), steps: ours.length },
      pytorch: { torch: ref.info.torch, blas: ref.info.blas,
        threads_all: { threads: cpus, median_s: r4(mN), tokens_per_s: Math.round(tokens / mN), median_cpu_s: r4(median(ptNCpu)), steps: ptN.length },
        threads_1: { threads: 1, median_s: r4(m1), tokens_per_s: Math.round(tokens / m1), median_cpu_s: r4(median(pt1Cpu)), steps: pt1.length } },
      // Ratios of median wall times; the goal is judged against the faster PyTorch configuration.
      ratio_ours_over_pytorch: r4(mOurs / mN), ratio_ours_over_pytorch_1thread: r4(mOurs / m1), ratio_ours_over_best_pytorch: r4(mOurs / best),
      ratio_cpu_time_ours_over_pytorch_1thread: r4(median(oursCpu) / median(pt1Cpu)),
      goal: 1.5, meets_goal: mOurs / best <= 1.5,
      agreement: { ...check, ok: agree },
      profile: { step_kernel_ms: Math.round(kernelTotal), kernels: prof.kernels.length, top5: top,
        matmul: { xnnpack_batch1_ms: Math.round(mm.xnnpack_batch1_ms), batched_loop_ms: Math.round(mm.batched_loop_ms), batched_calls: mm.batched_calls } },
      machine: { cpus, cpu: os.cpus()[0]?.model, load_during: loads.map((x) => +x.toFixed(2)), load_end: os.loadavg().map((x) => +x.toFixed(2)) },
      date: new Date().toISOString(),
    }));
    trainer.dispose();
    lmm.dispose();
    for (const t of feats) t.dispose();
    for (const t of f0) t?.dispose();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

// (An error escaping to the top level would make the wasm module's handler print its whole source.)
try {
  await main();
} catch (e) {
  process.stderr.write(`[train-step] failed: ${(e as Error).stack ?? e}\n`);
  process.exit(1);
}
