/**
 * One projector path for a user's modality: `runTraining` (what `multi-token train` runs) trains the README's
 * LunarLanderModality from a plain LM with `--modality_builder lunar_lander`, and the output folder reloads
 * through `registerModalityKind` with exactly the trained projector. A modality whose `toConfig()` forgets an
 * option its projector depends on is refused at load, naming the difference, instead of loading wrong.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { tf, loadLMM, initProjector, LMM, MemorySource, registerModalityKind, type Modality, type ModalityConfig, type ProjectorSpec } from 'multi-token';
import { makeTinyLMFiles } from 'multi-token/testing';
import '@tensorflow/tfjs-backend-wasm';
import { installKernelFallbacks } from '../src/backend-fallbacks.js';
import { writeDirAtomic } from '../node/atomic-write.js';
import { runTraining } from '../node/train/run-training.js';
import { TRAIN_DEFAULTS } from '../node/train/args.js';
import { lmmCheckpointFiles } from '../src/lmm/save.js';
import { LunarLanderModality } from '../examples/custom-modality.js';
import { tmpDir, writeJsonl } from './helpers/tiny-vector.js';
import '../node/index.js';

await tf.setBackend('wasm');
installKernelFallbacks('wasm');

const root = await tmpDir('mt-custom-train-');
const lmDir = path.join(root, 'lm');
const lmFiles = await makeTinyLMFiles({ arch: 'llama', hiddenSize: 32, numHiddenLayers: 1, seed: 3 });
await writeDirAtomic(lmDir, lmFiles);

// Which way the lander drifts decides the key: only the <state> item carries it.
const rows = Array.from({ length: 16 }, (_, i) => ({
  id: `s${i}`,
  messages: [{ role: 'user', content: 'Given <state>, which key?' }, { role: 'assistant', content: i % 2 ? 'left' : 'right' }],
  states: [[i % 2 ? 1.2 : -1.2, 1, i % 2 ? 4 : -4, -0.5, 0.05 * i, 0, 0, 0]],
}));

test('runTraining trains a custom modality from a plain LM (--modality_builder lunar_lander, LoRA) and the folder reloads with the trained projector', async (t) => {
  const out = path.join(root, 'out');
  const trained = new Map<string, Float32Array>();
  const r = await runTraining(
    {
      ...TRAIN_DEFAULTS,
      model_name_or_path: lmDir,
      dataset_path: await writeJsonl(rows, root),
      output_dir: out,
      modality_builder: 'lunar_lander',
      lora_enable: true,
      lora_r: 4,
      lora_alpha: 8,
      per_device_train_batch_size: 8,
      learning_rate: 1e-2,
      max_steps: 16,
      logging_steps: 1,
      save_steps: 0,
      progress: false,
    },
    () => {},
    (lmm) => {
      for (const [name, v] of lmm.projectorParameters()) trained.set(name, v.dataSync().slice() as Float32Array);
    },
  );
  const losses = r.state.log_history.flatMap((e) => ('loss' in e ? [e.loss] : []));
  t.diagnostic(`loss ${losses.map((x) => x.toFixed(2)).join(' ')}`);
  const mean = (a: number[]) => a.reduce((s, x) => s + x, 0) / a.length;
  assert.ok(mean(losses.slice(-3)) < mean(losses.slice(0, 3)) * 0.8, `loss ${losses.map((x) => x.toFixed(2))}`);

  // The projector itself trained: it left the initialisation the trainer started from (same seed, same call).
  const init = await loadLMM(lmDir, { modalityBuilder: 'lunar_lander', initProjectors: true, seed: TRAIN_DEFAULTS.seed });
  for (const [name, v] of init.projectorParameters()) assert.notDeepEqual(trained.get(name), v.dataSync(), `${name} trained`);
  init.dispose();

  const config = JSON.parse(await readFile(path.join(out, 'config.json'), 'utf8'));
  const [saved] = config.multi_token.modalities;
  assert.equal(saved.kind, 'lunar_lander');
  assert.deepEqual(saved.projector, new LunarLanderModality().projectorSpec, 'config.json keeps the spec training built from');

  const again = await loadLMM(out, { base: lmDir });
  assert.ok(again.modalities[0] instanceof LunarLanderModality);
  assert.equal(again.projectorParameters().size, trained.size);
  for (const [name, v] of again.projectorParameters()) assert.deepEqual(v.dataSync(), trained.get(name), `${name} reloads as trained`);
  again.dispose();
});

/** A user's modality with a projector depth option that its toConfig() forgets to save. */
class ForgetfulModality implements Modality<Float32Array[]> {
  readonly name = 'forgetful';
  readonly token = '<state>';
  readonly dataKey = 'states';
  readonly tokenWidth = 4;
  readonly projectorSpec: ProjectorSpec;
  private readonly lander = new LunarLanderModality();
  constructor(layers = 2) {
    this.projectorSpec = { type: 'vector_mlp', inputSize: 8, layers, numTokens: 4 };
  }
  preprocess(values: unknown[]): Promise<Float32Array[]> {
    return this.lander.preprocess(values);
  }
  encode(rows: Float32Array[][]): Promise<tf.Tensor[]> {
    return this.lander.encode(rows);
  }
  toConfig(): ModalityConfig {
    return { kind: 'forgetful', name: this.name, token: this.token, dataKey: this.dataKey };
  }
}
registerModalityKind('forgetful', async () => new ForgetfulModality());

test('a modality that rebuilds with another projector than it was saved with is refused at load, naming it', async () => {
  const toSource = (f: Map<string, Uint8Array | string>) => new MemorySource(f);
  const base = await loadLMM(toSource(lmFiles));
  const mod = new ForgetfulModality(3);
  const lmm = new LMM(base.lm, base.tokenizer, [mod], [initProjector(mod.projectorSpec, 32, () => 0.5)]);
  const files = await lmmCheckpointFiles(lmm, { includeLM: true, tokenizerSource: toSource(lmFiles) });
  await assert.rejects(loadLMM(toSource(files)), (e: Error) => {
    assert.match(e.message, /modality "forgetful" \(kind forgetful\) rebuilds with another projector than it was saved with \(layers 3 saved, 2 rebuilt\)/);
    assert.match(e.message, /toConfig\(\) must keep every option its projectorSpec depends on/);
    return true;
  });
  lmm.dispose();
});
