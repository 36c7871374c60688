/**
 * Regenerates `test/fixtures/llama-ref.json`: expected logits and loss from the independent PyTorch reference
 * (`bench/reference/llama_ref.py`) for tiny random Llama / Mistral / Qwen2 checkpoints.
 *
 *   npx tsx bench/reference/make_llama_fixture.ts            # needs python3 with torch + numpy
 *   PYTHON=/usr/bin/python3 npx tsx bench/reference/make_llama_fixture.ts
 *
 * Weights are not stored in the fixture: they come from `randomLlamaWeights(config, seed)` (deterministic), with
 * the RMSNorm weights replaced by the explicit, non-unit `normWeights` stored in the fixture (random weights use
 * unit norms, which would leave the norm's scale untested). The test rebuilds the same weights and compares.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tf, type Tensor } from '../../src/tf.js';
import { parseLlamaConfig, type LlamaConfig } from '../../src/lm/config.js';
import { randomLlamaWeights, tinyLlamaConfigJSON, type TinyArch } from '../../src/tiny/tiny-llama.js';
import { serializeSafetensors, type RawTensor } from '../../src/io/safetensors.js';
import { tensorToRaw } from '../../src/io/weights.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const OUT = join(root, 'test/fixtures/llama-ref.json');
const REF = join(here, 'llama_ref.py');

const VOCAB = 64;
const common = {
  vocabSize: VOCAB,
  hiddenSize: 32,
  intermediateSize: 64,
  numHiddenLayers: 2,
  numAttentionHeads: 4,
  numKeyValueHeads: 2,
  eosTokenId: 2,
  bosTokenId: 1,
  padTokenId: 0,
};

interface CaseSpec {
  name: string;
  arch: TinyArch;
  seed: number;
  tie?: boolean;
  extra?: Record<string, unknown>;
  why: string;
}

const CASES: CaseSpec[] = [
  {
    name: 'llama',
    arch: 'llama',
    seed: 11,
    why: 'llama3 rope scaling (medium + low bands), attention_bias on q/k/v/o, untied head',
    extra: {
      attention_bias: true,
      rope_scaling: {
        rope_type: 'llama3',
        factor: 8,
        low_freq_factor: 1,
        high_freq_factor: 4,
        original_max_position_embeddings: 16,
      },
    },
  },
  { name: 'mistral', arch: 'mistral', seed: 12, why: 'sliding window 3 over 7 tokens', extra: { sliding_window: 3 } },
  { name: 'qwen2', arch: 'qwen2', seed: 13, tie: true, why: 'q/k/v bias, tied embeddings, rope_theta 1e6' },
  {
    name: 'llama-linear-mlpbias-headdim',
    arch: 'llama',
    seed: 14,
    why: 'linear rope scaling, mlp_bias, explicit head_dim (16) != hidden/heads (8), rope_theta 100',
    extra: { mlp_bias: true, head_dim: 16, rope_theta: 100, rope_scaling: { type: 'linear', factor: 4 } },
  },
  {
    name: 'llama-llama3-all-bands',
    arch: 'llama',
    seed: 15,
    why: 'llama3 rope scaling with original context 64: one kept, one smoothed, two divided frequencies',
    extra: {
      rope_scaling: {
        rope_type: 'llama3',
        factor: 8,
        low_freq_factor: 1,
        high_freq_factor: 4,
        original_max_position_embeddings: 64,
      },
    },
  },
  {
    name: 'qwen2-sliding-layer1',
    arch: 'qwen2',
    seed: 16,
    tie: true,
    why: 'use_sliding_window with max_window_layers 1: layer 0 full attention, layer 1 window 3',
    extra: { use_sliding_window: true, sliding_window: 3, max_window_layers: 1 },
  },
];

/** Left-padded batch: row 0 full, row 1 with 3 pads; labels hide pads and a prompt prefix. */
const INPUT_IDS = [
  [1, 17, 42, 5, 63, 28, 9],
  [0, 0, 0, 1, 33, 7, 50],
];
const ATTENTION_MASK = [
  [1, 1, 1, 1, 1, 1, 1],
  [0, 0, 0, 1, 1, 1, 1],
];
const LABELS = [
  [-100, -100, -100, 5, 63, 28, 9],
  [-100, -100, -100, -100, 33, 7, 50],
];

/** Deterministic, non-unit RMSNorm weights, exactly representable in 3 decimals. */
function normWeights(config: LlamaConfig, seed: number): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  const names = ['model.norm.weight'];
  for (let i = 0; i < config.numHiddenLayers; i++) {
    names.push(`model.layers.${i}.input_layernorm.weight`, `model.layers.${i}.post_attention_layernorm.weight`);
  }
  names.forEach((n, k) => {
    out[n] = Array.from({ length: config.hiddenSize }, (_, j) => {
      const v = 1 + 0.5 * Math.sin(seed * 7.1 + k * 3.3 + j * 0.77);
      return Math.round(v * 1000) / 1000;
    });
  });
  return out;
}

/** The weights the test will rebuild: random from the seed, norms replaced. */
function fixtureWeights(config: LlamaConfig, seed: number, norms: Record<string, number[]>): Map<string, Tensor> {
  const w = randomLlamaWeights(config, seed);
  for (const [n, v] of Object.entries(norms)) {
    if (!w.has(n)) throw new Error(`norm weight "${n}" is not a model weight`);
    w.get(n)!.dispose();
    w.set(n, tf.tensor1d(v));
  }
  return w;
}

function findPython(): string {
  const candidates = [process.env.PYTHON, 'python3', '/usr/bin/python3'].filter((x): x is string => !!x);
  for (const py of candidates) {
    const r = spawnSync(py, ['-c', 'import torch, numpy'], { stdio: 'ignore' });
    if (r.status === 0) return py;
  }
  throw new Error(`no python with torch + numpy found (tried ${candidates.join(', ')}); set PYTHON`);
}

async function assertDeterministic(config: LlamaConfig, seed: number): Promise<void> {
  const a = randomLlamaWeights(config, seed);
  const b = randomLlamaWeights(config, seed);
  for (const [n, t] of a) {
    const x = t.dataSync();
    const y = b.get(n)!.dataSync();
    if (x.length !== y.length || x.some((v, i) => !Object.is(v, y[i]))) {
      throw new Error(`randomLlamaWeights is not deterministic: "${n}" differs between two calls with seed ${seed}`);
    }
  }
  for (const t of [...a.values(), ...b.values()]) t.dispose();
}

const sig6 = (x: number) => Number(x.toPrecision(6));

async function main(): Promise<void> {
  await tf.setBackend('cpu');
  const py = findPython();
  const tmp = mkdtempSync(join(tmpdir(), 'llama-ref-'));
  const cases: unknown[] = [];
  try {
    for (const spec of CASES) {
      const configJSON = tinyLlamaConfigJSON({
        ...common,
        arch: spec.arch,
        tieWordEmbeddings: spec.tie ?? false,
        extra: spec.extra,
      });
      const config = parseLlamaConfig(configJSON);
      await assertDeterministic(config, spec.seed);
      const norms = normWeights(config, spec.seed);
      const weights = fixtureWeights(config, spec.seed, norms);
      const raw = new Map<string, RawTensor>();
      for (const [n, t] of weights) raw.set(n, await tensorToRaw(t, 'F32'));
      const dir = join(tmp, spec.name);
      mkdirSync(dir);
      writeFileSync(join(dir, 'config.json'), JSON.stringify(configJSON, null, 2));
      writeFileSync(join(dir, 'model.safetensors'), serializeSafetensors(raw, { format: 'pt' }));
      writeFileSync(
        join(dir, 'input.json'),
        JSON.stringify({ input_ids: INPUT_IDS, attention_mask: ATTENTION_MASK, labels: LABELS }),
      );
      execFileSync(py, [REF, dir, join(dir, 'input.json'), join(dir, 'output.json')], { stdio: 'inherit' });
      const out = JSON.parse(readFileSync(join(dir, 'output.json'), 'utf8')) as {
        logits: number[][][];
        loss: number;
        position_ids: number[][];
      };
      // Padded positions' logits are meaningless (their queries see no key); store null there.
      const logits = out.logits.map((row, b) => row.map((v, t) => (ATTENTION_MASK[b][t] ? v.map(sig6) : null)));
      cases.push({
        name: spec.name,
        why: spec.why,
        config: configJSON,
        seed: spec.seed,
        normWeights: norms,
        inputIds: INPUT_IDS,
        attentionMask: ATTENTION_MASK,
        labels: LABELS,
        positionIds: out.position_ids,
        logits,
        loss: out.loss,
      });
      for (const t of weights.values()) t.dispose();
      console.log(`${spec.name}: loss ${out.loss}`);
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  const fixture = {
    about:
      'Expected logits/loss from bench/reference/llama_ref.py (independent PyTorch re-implementation of HF ' +
      'Llama/Mistral/Qwen2) for tiny random checkpoints. Weights = randomLlamaWeights(parseLlamaConfig(config), seed) ' +
      'with RMSNorm weights replaced by normWeights. Logits rounded to 6 significant digits; null at padded positions. ' +
      'Regenerate: npx tsx bench/reference/make_llama_fixture.ts',
    cases,
  };
  const text = JSON.stringify(fixture) + '\n';
  writeFileSync(OUT, text);
  console.log(`wrote ${OUT} (${(text.length / 1024).toFixed(1)} KB)`);
}

await main();
