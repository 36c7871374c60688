/**
 * Regenerates `test/fixtures/seed-lora/`: a LoRA output folder written the way the Python multi_token library
 * (the seed) writes one, by an independent torch re-creation of its code (`bench/reference/seed_interop_ref.py`),
 * plus `expected.json` with torch's projector outputs and LoRA-merged logits. Then checks the other direction:
 * loads that folder with our `loadLMM` (LoRA kept unmerged), writes it back with `lmmCheckpointFiles`, and runs
 * the seed's loading code path (emulated in torch) on our files; the run fails unless every check passes.
 *
 *   npx tsx bench/reference/make_interop_fixture.ts              # needs python3 with torch + numpy
 *   PYTHON=/usr/bin/python3 npx tsx bench/reference/make_interop_fixture.ts
 *
 * The base model is not committed: it is `makeTinyLMFiles(BASE)` (deterministic; checked here by building it
 * twice, and by the test against the hashes stored in expected.json).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tf } from '../../src/tf.js';
import { makeTinyLMFiles, type TinyLMOptions } from '../../src/tiny/tiny-lmm.js';
import { loadLMM } from '../../src/lmm/load.js';
import { lmmCheckpointFiles } from '../../src/lmm/save.js';
import { parsePeftAdapterConfig } from '../../src/lora/lora.js';
import { writeDirAtomic } from '../../node/atomic-write.js';
import { openSource } from '../../node/folder-source.js';
import type { ChatRow } from '../../src/chat/encode-chat.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const OUT = join(root, 'test/fixtures/seed-lora');
const REF = join(here, 'seed_interop_ref.py');

/** The base LM: the seed's only LM class is MistralLMMForCausalLM, so a tiny Mistral. */
const BASE: TinyLMOptions = {
  arch: 'mistral',
  hiddenSize: 32,
  intermediateSize: 64,
  numHiddenLayers: 2,
  numAttentionHeads: 4,
  numKeyValueHeads: 2,
  seed: 21,
};
const MODALITY_OPTIONS = { dim: 8, numTokens: 2 };
const COMMITTED = ['config.json', 'adapter_config.json', 'adapter_model.bin', 'non_lora_trainables.bin'];

const MM_ROW: ChatRow = {
  id: 'interop',
  messages: [
    { role: 'user', content: 'Which is larger, <vector> or <vector>?' },
    { role: 'assistant', content: 'the first one' },
  ],
  vectors: [
    [0.5, -1.25, 0.75, 2, -0.5, 0.25, 1.5, -2],
    [-1, 0.125, 1.75, -0.75, 0.375, -1.5, 0.625, 1],
  ],
};

function findPython(): string {
  const candidates = [process.env.PYTHON, 'python3', '/usr/bin/python3'].filter((x): x is string => !!x);
  for (const py of candidates) {
    if (spawnSync(py, ['-c', 'import torch, numpy'], { stdio: 'ignore' }).status === 0) return py;
  }
  throw new Error(`no python with torch + numpy found (tried ${candidates.join(', ')}); set PYTHON`);
}

const sha256 = (v: Uint8Array | string) => createHash('sha256').update(v).digest('hex');

/** Base files, built twice: make-tiny must be deterministic for the test to rebuild what torch saw. */
async function baseFiles(): Promise<Map<string, Uint8Array | string>> {
  const a = await makeTinyLMFiles(BASE);
  const b = await makeTinyLMFiles(BASE);
  for (const [k, v] of a) {
    if (sha256(v) !== sha256(b.get(k) ?? '')) throw new Error(`makeTinyLMFiles is not deterministic: ${k} differs`);
  }
  return a;
}

const sig7 = (x: number) => Number(x.toPrecision(7));
const round = (a: number[][][]) => a.map((r) => r.map((v) => v.map(sig7)));
/** Logits at position t keep the columns c with (c + t) % LOGIT_STRIDE == 0: every column appears, 1/4 of the size. */
const LOGIT_STRIDE = 4;
const thin = (a: number[][][]) => a.map((r) => r.map((v, t) => v.filter((_, c) => (c + t) % LOGIT_STRIDE === 0).map(sig7)));

async function main(): Promise<void> {
  await tf.setBackend('cpu');
  const py = findPython();
  const tmp = mkdtempSync(join(tmpdir(), 'seed-interop-'));
  try {
    const base = await baseFiles();
    const baseDir = join(tmp, 'base');
    await writeDirAtomic(baseDir, base);

    // Token ids of the multimodal row, from the base tokenizer (the weights do not matter for this).
    const tokLMM = await loadLMM(baseDir, { open: openSource, modalityBuilder: 'vector', modalityOptions: MODALITY_OPTIONS, initProjectors: true });
    const encoded = tokLMM.encodeRow(MM_ROW);
    tokLMM.dispose();
    const vocab = JSON.parse(base.get('config.json') as string).vocab_size as number;

    const spec = {
      seed: 1234,
      base_model_name: 'tiny-mistral (makeTinyLMFiles, see expected.json "base")',
      modality_builder: 'vector',
      modality: { name: 'vector', token: '<vector>', dim: MODALITY_OPTIONS.dim, num_tokens: MODALITY_OPTIONS.numTokens, layers: 2 },
      patch_modality: { name: 'vision_clip', token: '<image>', dim: 16, num_tokens: 1, layers: 2 },
      lora: { r: 4, alpha: 16, dropout: 0.05, b_std: 0.1 },
      projector_inputs: [
        [1, 0, -1, 0.5, -0.5, 2, -2, 0.25],
        [0.3, -0.7, 1.1, -1.3, 0.9, -0.1, 0.6, -0.4],
        [-2, 1.5, 0, 0, 3, -1, 0.2, 0.8],
      ],
      text_ids: [[1, 17, 42, 5, vocab - 3, 28, 9, 300]],
      mm: { input_ids: [encoded.inputIds], placeholder_id: -1, vectors: [MM_ROW.vectors] },
    };
    const specPath = join(tmp, 'spec.json');
    writeFileSync(specPath, JSON.stringify(spec, null, 2));
    const seedDir = join(tmp, 'seed');
    const env = { ...process.env, PYTHONHASHSEED: '0' }; // target_modules come from a set: fix its order
    execFileSync(py, [REF, 'make', baseDir, seedDir, specPath], { stdio: 'inherit', env });
    const ref = JSON.parse(readFileSync(join(seedDir, 'reference.json'), 'utf8'));

    // The other direction: our loader (LoRA unmerged) → our writer → the seed's loading path.
    const lmm = await loadLMM(seedDir, { base: baseDir, open: openSource, modalityOptions: MODALITY_OPTIONS, mergeLora: false });
    const lora = parsePeftAdapterConfig(JSON.parse(readFileSync(join(seedDir, 'adapter_config.json'), 'utf8')));
    const ours = await lmmCheckpointFiles(lmm, { lora });
    lmm.dispose();
    const oursDir = join(tmp, 'ours');
    await writeDirAtomic(oursDir, ours);
    const accept = spawnSync(py, [REF, 'accept', baseDir, oursDir, seedDir, specPath, join(seedDir, 'reference.json')], { encoding: 'utf8', env });
    process.stderr.write(accept.stderr);
    const report = JSON.parse(accept.stdout) as { ok: boolean; torch: string; checks: { check: string; ok: boolean; detail: string }[] };
    for (const c of report.checks) console.log(`${c.ok ? 'ok  ' : 'FAIL'} ${c.check}${c.detail ? ` (${c.detail})` : ''}`);
    if (!report.ok || accept.status !== 0) throw new Error('the seed-side acceptance check of our files failed (see above)');

    rmSync(OUT, { recursive: true, force: true });
    mkdirSync(OUT, { recursive: true });
    for (const f of COMMITTED) copyFileSync(join(seedDir, f), join(OUT, f));
    const expected = {
      about:
        'A LoRA output folder as the Python multi_token library writes it (torch re-creation: ' +
        'bench/reference/seed_interop_ref.py), and torch outputs for it. Base model: makeTinyLMFiles(base.options), ' +
        'not committed; base.sha256 pins its bytes. Logits: LoRA merged (W + alpha/r·B·A), llama_ref.py forward, ' +
        '7 significant digits, at position t only the vocab columns c with (c + t) % logitStride == 0. mm: the seed\'s prepare_inputs_labels_for_multimodal splice. ' +
        'Regenerate: npx tsx bench/reference/make_interop_fixture.ts',
      base: { options: BASE, sha256: Object.fromEntries([...base].map(([k, v]) => [k, sha256(v)])) },
      modalityOptions: MODALITY_OPTIONS,
      lora: spec.lora,
      targetModules: ref.target_modules,
      projector: { inputs: spec.projector_inputs, outputs: round(ref.projector_outputs) },
      logitStride: LOGIT_STRIDE,
      text: { inputIds: spec.text_ids, logits: thin(ref.text_logits) },
      mm: { row: MM_ROW, inputIds: spec.mm.input_ids, seedInputIds: ref.mm_seed_input_ids, logits: thin(ref.mm_logits) },
      keys: { nonLora: ref.non_lora_keys, adapter: ref.adapter_keys, patchProjector: ref.patch_projector_keys },
      pythonAcceptance: { torch: report.torch, checks: report.checks.map((c) => `${c.ok ? 'ok' : 'FAIL'}: ${c.check}`) },
    };
    writeFileSync(join(OUT, 'expected.json'), JSON.stringify(expected) + '\n');
    let total = 0;
    for (const f of [...COMMITTED, 'expected.json']) total += readFileSync(join(OUT, f)).byteLength;
    console.log(`wrote ${OUT} (${(total / 1024).toFixed(1)} KB)`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

await main();
