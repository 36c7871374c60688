/**
 * Checkpoints move between the Python multi_token library (the seed) and ours. test/fixtures/seed-lora/ is a LoRA
 * output folder written by a torch re-creation of the seed's training/saving code (adapter_model.bin,
 * non_lora_trainables.bin, adapter_config.json, config.json) with torch's outputs in expected.json; regenerate with
 * `npx tsx bench/reference/make_interop_fixture.ts`, which also runs the seed's loading path on the files we write.
 * This test needs no Python: the base LM is rebuilt with makeTinyLMFiles and pinned by hash.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tf, type Tensor } from '../src/tf.js';
import { makeTinyLMFiles, type TinyLMOptions } from '../src/tiny/tiny-lmm.js';
import { loadLMM } from '../src/lmm/load.js';
import type { LMM } from '../src/lmm/lmm.js';
import { lmmCheckpointFiles } from '../src/lmm/save.js';
import { parsePeftAdapterConfig } from '../src/lora/lora.js';
import { parseTorchStateDict } from '../src/io/torch-pickle.js';
import { parseSafetensors, type RawTensor } from '../src/io/safetensors.js';
import { PatchMLPProjector } from '../src/projector/index.js';
import { collate } from '../src/data/collate.js';
import type { ChatRow } from '../src/chat/encode-chat.js';
import { writeDirAtomic } from '../node/atomic-write.js';
import { openSource } from '../node/folder-source.js';

await tf.setBackend('cpu');

const FIXTURE = fileURLToPath(new URL('./fixtures/seed-lora/', import.meta.url));
const expected = JSON.parse(readFileSync(join(FIXTURE, 'expected.json'), 'utf8')) as {
  base: { options: TinyLMOptions; sha256: Record<string, string> };
  modalityOptions: Record<string, unknown>;
  lora: { r: number; alpha: number };
  targetModules: string[];
  logitStride: number;
  projector: { inputs: number[][]; outputs: number[][][] };
  text: { inputIds: number[][]; logits: number[][][] };
  mm: { row: ChatRow; inputIds: number[][]; logits: number[][][] };
  keys: { nonLora: Record<string, number[]>; adapter: Record<string, number[]>; patchProjector: Record<string, number[]> };
};
const LOGIT_TOL = 1e-4;
const PROJ_TOL = 1e-5;
/** Every key PEFT 0.6.2's LoraConfig (and its bases) accepts: peft 0.6–0.13 raise TypeError on any other. */
const PEFT_062_FIELDS = new Set([
  'peft_type', 'auto_mapping', 'base_model_name_or_path', 'revision', 'task_type', 'inference_mode', 'r',
  'target_modules', 'lora_alpha', 'lora_dropout', 'fan_in_fan_out', 'bias', 'modules_to_save', 'init_lora_weights',
  'layers_to_transform', 'layers_pattern', 'rank_pattern', 'alpha_pattern',
]);

let tmp = '';
let baseDir = '';

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'seed-interop-'));
  baseDir = join(tmp, 'base');
  await writeDirAtomic(baseDir, await makeTinyLMFiles(expected.base.options));
});
after(() => rmSync(tmp, { recursive: true, force: true }));

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const load = (mergeLora: boolean) =>
  loadLMM(FIXTURE, { base: baseDir, open: openSource, modalityOptions: expected.modalityOptions, mergeLora });

/** Max |ours − torch| over the stored columns ((c + t) % stride == 0 at position t). */
function logitDiff(ours: Tensor, want: number[][][], stride: number): number {
  const got = ours.arraySync() as number[][][];
  let worst = 0;
  want.forEach((row, b) =>
    row.forEach((cols, t) => {
      const full = got[b][t];
      const picked = full.filter((_, c) => (c + t) % stride === 0);
      assert.equal(picked.length, cols.length, `row ${b} position ${t}: ${picked.length} columns vs ${cols.length} stored`);
      picked.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - cols[i]))));
    }),
  );
  return worst;
}

function textLogits(lmm: LMM): Tensor {
  const ids = tf.tensor2d(expected.text.inputIds, undefined, 'int32');
  const { logits, hidden } = lmm.lm.forward({ inputIds: ids, attentionMask: expected.text.inputIds.map((r) => r.map(() => 1)) });
  ids.dispose();
  hidden.dispose();
  return logits!;
}

async function multimodalLogits(lmm: LMM): Promise<Tensor> {
  const encoded = lmm.encodeRow(expected.mm.row);
  assert.deepEqual(encoded.inputIds, expected.mm.inputIds[0], 'the tokenizer gives the ids torch was run on');
  const { batch } = collate([encoded], { maxLength: 512, padTokenId: lmm.tokenizer.padTokenId, tokenWidths: lmm.tokenWidths });
  const pre = await lmm.preprocess(batch!.items, batch!.ids);
  const features = await lmm.encode(pre, batch!.layout, batch!.ids);
  const { loss, logits } = lmm.forward(batch!, features);
  loss.dispose();
  for (const f of features) f?.dispose();
  return logits;
}

function projectorDiff(lmm: LMM): number {
  const x = tf.tensor3d(expected.projector.inputs.flat(), [expected.projector.inputs.length, 1, expected.projector.inputs[0].length]);
  const y = lmm.projectors[0].apply(x);
  x.dispose();
  const got = y.arraySync() as number[][][];
  y.dispose();
  assert.deepEqual([got.length, got[0].length, got[0][0].length], [3, 2, 32]);
  let worst = 0;
  expected.projector.outputs.forEach((a, i) => a.forEach((r, j) => r.forEach((v, k) => (worst = Math.max(worst, Math.abs(got[i][j][k] - v))))));
  return worst;
}

function describe(m: Map<string, RawTensor>): Record<string, string> {
  return Object.fromEntries([...m].map(([k, t]) => [k, `${t.dtype}[${t.shape.join(',')}]`]));
}

function sameBytes(a: Map<string, RawTensor>, b: Map<string, RawTensor>, what: string): void {
  for (const [k, t] of a) assert.ok(sha256(t.data) === sha256(b.get(k)!.data), `${what}: "${k}" values differ`);
}

test('the base model regenerates byte for byte (make-tiny is deterministic)', () => {
  for (const [name, hash] of Object.entries(expected.base.sha256)) {
    assert.equal(sha256(readFileSync(join(baseDir, name))), hash, `${name} differs from the one the fixture was made with`);
  }
});

test('loads the seed LoRA folder (.bin adapter + .bin projectors) and matches torch: projector, merged logits', async () => {
  const lmm = await load(true);
  try {
    assert.equal(lmm.meta.modelCls, 'MistralLMMForCausalLM');
    assert.deepEqual(lmm.modalities.map((m) => m.name), ['vector']);
    assert.equal(lmm.lora, null, 'merged by default');

    const dp = projectorDiff(lmm);
    assert.ok(dp < PROJ_TOL, `projector outputs differ from torch by ${dp}`);

    const text = textLogits(lmm);
    const dt = logitDiff(text, expected.text.logits, expected.logitStride);
    text.dispose();
    assert.ok(dt < LOGIT_TOL, `text logits differ from torch (LoRA merged) by ${dt}`);

    const mm = await multimodalLogits(lmm);
    const dm = logitDiff(mm, expected.mm.logits, expected.logitStride);
    mm.dispose();
    assert.ok(dm < LOGIT_TOL, `multimodal logits differ from torch (seed splice, LoRA merged) by ${dm}`);
  } finally {
    lmm.dispose();
  }

  // The adapter matters: without it the logits are far off, so the match above is not an accident.
  const bare = await loadLMM(baseDir, { open: openSource });
  const t = textLogits(bare);
  const off = logitDiff(t, expected.text.logits, expected.logitStride);
  t.dispose();
  bare.dispose();
  assert.ok(off > 1e-2, `base model alone is within ${off} of the LoRA logits: the adapter has no visible effect`);
});

test('round trip: unmerged LoRA, written by lmmCheckpointFiles, has the seed\'s key names, dtypes and shapes', async () => {
  const lmm = await load(false);
  let files: Map<string, Uint8Array | string>;
  try {
    assert.equal(lmm.lora?.size, expected.targetModules.length * expected.base.options.numHiddenLayers!);
    const text = textLogits(lmm);
    const dt = logitDiff(text, expected.text.logits, expected.logitStride);
    text.dispose();
    assert.ok(dt < LOGIT_TOL, `unmerged LoRA logits differ from torch's merged ones by ${dt}`);
    const lora = parsePeftAdapterConfig(JSON.parse(readFileSync(join(FIXTURE, 'adapter_config.json'), 'utf8')));
    files = await lmmCheckpointFiles(lmm, { lora });
  } finally {
    lmm.dispose();
  }

  const seedProj = parseTorchStateDict(readFileSync(join(FIXTURE, 'non_lora_trainables.bin')), 'seed non_lora_trainables.bin');
  const ourProj = parseTorchStateDict(files.get('non_lora_trainables.bin') as Uint8Array, 'our non_lora_trainables.bin');
  assert.deepEqual(describe(ourProj), describe(seedProj));
  assert.deepEqual(Object.fromEntries([...seedProj].map(([k, t]) => [k, t.shape])), expected.keys.nonLora);
  sameBytes(seedProj, ourProj, 'non_lora_trainables.bin');
  const ourProjST = parseSafetensors(files.get('non_lora_trainables.safetensors') as Uint8Array).tensors;
  assert.deepEqual(describe(ourProjST), describe(seedProj));

  const seedAdapter = parseTorchStateDict(readFileSync(join(FIXTURE, 'adapter_model.bin')), 'seed adapter_model.bin');
  const ourAdapter = parseSafetensors(files.get('adapter_model.safetensors') as Uint8Array, 'adapter_model.safetensors').tensors;
  assert.deepEqual(describe(ourAdapter), describe(seedAdapter));
  assert.deepEqual(Object.fromEntries([...seedAdapter].map(([k, t]) => [k, t.shape])), expected.keys.adapter);
  sameBytes(seedAdapter, ourAdapter, 'adapter weights');

  const adapterCfg = JSON.parse(files.get('adapter_config.json') as string) as Record<string, unknown>;
  const unknown = Object.keys(adapterCfg).filter((k) => !PEFT_062_FIELDS.has(k));
  assert.deepEqual(unknown, [], 'adapter_config.json keys that PEFT 0.6–0.8 reject with TypeError');
  assert.equal(adapterCfg.r, expected.lora.r);
  assert.equal(adapterCfg.lora_alpha, expected.lora.alpha);
  assert.deepEqual([...(adapterCfg.target_modules as string[])].sort(), [...expected.targetModules].sort());

  const config = JSON.parse(files.get('config.json') as string) as Record<string, unknown>;
  assert.equal(config.model_cls, 'MistralLMMForCausalLM');
  assert.equal(config.modality_builder, 'vector');
  assert.deepEqual(config.modalities, ['vector']);
});

test('patch projector parameters are named like the seed\'s nn.Sequential (build_patch_mlp_projector)', () => {
  const name = Object.keys(expected.keys.patchProjector)[0];
  const prefix = name.slice(0, name.indexOf('_lmm_projector.') + '_lmm_projector.'.length);
  const inputSize = expected.keys.patchProjector[`${prefix}0.weight`][1];
  let s = 1;
  const p = PatchMLPProjector.init(inputSize, 32, 2, () => (s = (s * 16807) % 2147483647) / 2147483647);
  const ours = Object.fromEntries([...p.parameters()].map(([k, v]) => [prefix + k, v.shape]));
  p.dispose();
  assert.deepEqual(ours, expected.keys.patchProjector);
});
