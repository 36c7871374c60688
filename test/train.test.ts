import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, readFile, readdir, rm } from 'node:fs/promises';
import * as path from 'node:path';
import { tf } from '../src/tf.js';
import '@tensorflow/tfjs-backend-wasm';
import { installKernelFallbacks } from '../src/backend-fallbacks.js';
import { parseSafetensors } from '../src/io/safetensors.js';
import { runTraining } from '../node/train/run-training.js';
import type { TrainerState } from '../src/train/trainer.js';
import { VectorModality } from '../src/modality/vector/vector.js';
import { TRAIN_DEFAULTS, type TrainArgs } from '../node/train/args.js';
import { tmpDir, tinyVectorModel, vectorRows, writeJsonl } from './helpers/tiny-vector.js';
import '../node/index.js';

await tf.setBackend('wasm');
installKernelFallbacks('wasm');

const model = await tinyVectorModel();
const dataset = await writeJsonl(vectorRows(24));
const quiet = () => {};

function args(over: Partial<TrainArgs>): TrainArgs {
  return {
    ...TRAIN_DEFAULTS,
    model_name_or_path: model,
    dataset_path: dataset,
    output_dir: '',
    per_device_train_batch_size: 8,
    learning_rate: 3e-3,
    max_steps: 12,
    logging_steps: 1,
    save_steps: 0,
    progress: false,
    ...over,
  };
}

async function tensors(file: string) {
  return parseSafetensors(new Uint8Array(await readFile(file)), file).tensors;
}

function losses(state: TrainerState): number[] {
  return state.log_history.flatMap((e) => ('loss' in e ? [e.loss] : []));
}

const mean = (a: number[]) => a.reduce((s, x) => s + x, 0) / a.length;

test('pretrain projectors: loss falls, LM bit-identical, projectors change, seed key names', async () => {
  const out = path.join(await tmpDir(), 'pre');
  const base = await tensors(path.join(model, 'model.safetensors'));
  let lmChecked = 0;
  const r = await runTraining(args({ output_dir: out, pretrain_projectors: true, learning_rate: 5e-2, max_steps: 16 }), quiet, async (lmm) => {
    for (const [name, v] of lmm.lm.parameters()) {
      const want = new Float32Array(base.get(name)!.data.slice().buffer);
      assert.deepEqual(v.dataSync(), want, `${name} changed`);
      lmChecked++;
    }
  });
  assert.equal(lmChecked, base.size);
  const l = losses(r.state);
  // A frozen random LM can only be steered through 4 placeholder positions, so the drop is modest but clear.
  assert.ok(mean(l.slice(-3)) < mean(l.slice(0, 3)) - 0.5, `loss ${l.map((x) => x.toFixed(2))}`);
  // Every LM weight bit-identical after training (the frozen model, saved in full for comparison).
  const names = await readdir(out);
  assert.ok(!names.includes('model.safetensors'), 'pretraining writes no LM weights');
  const before = await tensors(path.join(model, 'non_lora_trainables.safetensors'));
  const after = await tensors(path.join(out, 'non_lora_trainables.safetensors'));
  assert.deepEqual([...after.keys()].sort(), [...before.keys()].sort());
  for (const k of after.keys()) assert.match(k, /^base_model\.model\.model\.vector_lmm_projector\.mlps\.\d\.[02]\.(weight|bias)$/);
  assert.ok([...after].some(([k, t]) => Buffer.compare(Buffer.from(t.data), Buffer.from(before.get(k)!.data)) !== 0));
  assert.ok(names.includes('non_lora_trainables.bin') && names.includes('README.md') && names.includes('loss.svg'));
});

test('LoRA: only adapters and projectors change; PEFT names and adapter_config', async () => {
  const out = path.join(await tmpDir(), 'lora');
  const base = await tensors(path.join(model, 'model.safetensors'));
  const r = await runTraining(args({ output_dir: out, lora_enable: true, lora_r: 4, lora_alpha: 8, learning_rate: 1e-2 }), quiet, (lmm) => {
    // Base weights untouched: LoRA trains beside them.
    for (const [name, v] of lmm.lm.parameters()) assert.deepEqual(v.dataSync(), new Float32Array(base.get(name)!.data.slice().buffer), name);
  });
  const l = losses(r.state);
  assert.ok(mean(l.slice(-3)) < mean(l.slice(0, 3)) * 0.8, `loss ${l.map((x) => x.toFixed(2))}`);
  const names = await readdir(out);
  assert.ok(!names.includes('model.safetensors'));
  const adapter = await tensors(path.join(out, 'adapter_model.safetensors'));
  const keys = [...adapter.keys()];
  assert.ok(keys.includes('base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight'));
  assert.ok(keys.includes('base_model.model.model.layers.1.mlp.down_proj.lora_B.weight'));
  assert.equal(keys.length, 2 * 2 * 7);
  assert.deepEqual(adapter.get('base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight')!.shape, [4, 32]);
  const cfg = JSON.parse(await readFile(path.join(out, 'adapter_config.json'), 'utf8'));
  assert.equal(cfg.peft_type, 'LORA');
  assert.equal(cfg.r, 4);
  assert.equal(cfg.lora_alpha, 8);
  // B starts at zero; after training it must not be.
  const b = adapter.get('base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight')!;
  assert.ok(new Float32Array(b.data.slice().buffer).some((x) => x !== 0));
});

test('full finetune: loss falls and the LM weights are saved', async () => {
  const out = path.join(await tmpDir(), 'full');
  const r = await runTraining(args({ output_dir: out }), quiet);
  const l = losses(r.state);
  assert.ok(mean(l.slice(-3)) < mean(l.slice(0, 3)) * 0.6, `loss ${l.map((x) => x.toFixed(2))}`);
  const lm = await tensors(path.join(out, 'model.safetensors'));
  const base = await tensors(path.join(model, 'model.safetensors'));
  assert.deepEqual([...lm.keys()].sort(), [...base.keys()].sort());
  assert.ok(Buffer.compare(Buffer.from(lm.get('model.layers.0.mlp.up_proj.weight')!.data), Buffer.from(base.get('model.layers.0.mlp.up_proj.weight')!.data)) !== 0);
});

test('kill and resume: the resumed run follows the uninterrupted loss trajectory exactly (LoRA with dropout)', async () => {
  const root = await tmpDir();
  const full = path.join(root, 'full');
  const common = { lora_enable: true, lora_r: 4, lora_dropout: 0.1, max_steps: 8, save_steps: 4, lr_scheduler_type: 'cosine', warmup_ratio: 0.25, per_device_train_batch_size: 4, gradient_accumulation_steps: 2 };
  const a = await runTraining(args({ ...common, output_dir: full }), quiet);
  // "Kill" after step 4: a fresh output dir holding only checkpoint-4, then resume.
  const resumed = path.join(root, 'resumed');
  await cp(path.join(full, 'checkpoint-4'), path.join(resumed, 'checkpoint-4'), { recursive: true });
  const b = await runTraining(args({ ...common, output_dir: resumed, resume_from_checkpoint: 'true' }), quiet);
  assert.deepEqual(losses(b.state), losses(a.state));
  const fa = await tensors(path.join(full, 'adapter_model.safetensors'));
  const fb = await tensors(path.join(resumed, 'adapter_model.safetensors'));
  for (const [k, t] of fa) assert.equal(Buffer.compare(Buffer.from(t.data), Buffer.from(fb.get(k)!.data)), 0, k);
});

test('bad rows: reported by id; --skip_bad_rows skips and counts them', async () => {
  const rows = vectorRows(10);
  rows[3] = { ...rows[3], vectors: [[1, 2, 3]] };
  rows[7] = { id: 'no-reply', messages: [{ role: 'user', content: 'hi' }] };
  const file = await writeJsonl(rows);
  const out = path.join(await tmpDir(), 'bad');
  await assert.rejects(runTraining(args({ dataset_path: file, output_dir: out }), quiet), (e: Error) => {
    assert.match(e.message, /2 dataset row\(s\) failed validation/);
    assert.match(e.message, /row "q3" \(#3\): .*vectors/);
    assert.match(e.message, /row "no-reply" \(#7\): no assistant reply/);
    return true;
  });
  const r = await runTraining(args({ dataset_path: file, output_dir: out, skip_bad_rows: true, max_steps: 1 }), quiet);
  assert.equal(r.skippedRows, 2);
  await rm(out, { recursive: true, force: true });
});

test('--train_encoders: the vision encoder receives gradients, is saved into the checkpoint and reloads', async () => {
  const root = await tmpDir();
  const { writeDirAtomic } = await import('../node/atomic-write.js');
  const { makeTinyMultimodalFiles } = await import('../src/tiny/tiny-multimodal.js');
  const { PNG } = await import('pngjs');
  const { writeFile } = await import('node:fs/promises');
  const base = path.join(root, 'vision-base');
  await writeDirAtomic(base, await makeTinyMultimodalFiles({ arch: 'llama', modalities: ['vision_clip'], hiddenSize: 32, numHiddenLayers: 1, seed: 3 }));
  const rows = [];
  for (let i = 0; i < 8; i++) {
    const png = new PNG({ width: 32, height: 32 });
    for (let p = 0; p < 32 * 32; p++) png.data.set(i % 2 ? [220, 30, 30, 255] : [30, 30, 220, 255], p * 4);
    await writeFile(path.join(root, `img${i}.png`), PNG.sync.write(png));
    rows.push({ id: `v${i}`, messages: [{ role: 'user', content: 'Colour of <image>?' }, { role: 'assistant', content: i % 2 ? 'red' : 'blue' }], images: [`img${i}.png`] });
  }
  const data = await writeJsonl(rows, root);
  const out = path.join(root, 'enc');
  await runTraining(args({ model_name_or_path: base, dataset_path: data, output_dir: out, train_encoders: true, max_steps: 3, per_device_train_batch_size: 4, save_steps: 2 }), quiet);
  const before = await tensors(path.join(base, 'vision_encoder/model.safetensors'));
  const after = await tensors(path.join(out, 'vision_clip_encoder/model.safetensors'));
  const key = 'vision_model.embeddings.patch_embedding.weight';
  assert.deepEqual(after.get(key)!.shape, before.get(key)!.shape, 'saved in PyTorch layout');
  assert.notEqual(Buffer.compare(Buffer.from(after.get(key)!.data), Buffer.from(before.get(key)!.data)), 0, 'the patch embedding trained');
  const config = JSON.parse(await readFile(path.join(out, 'config.json'), 'utf8'));
  assert.equal(config.multi_token.modalities[0].encoder, 'vision_clip_encoder');
  const { loadLMM } = await import('../src/lmm/load.js');
  const { openSource } = await import('../node/folder-source.js');
  const lmm = await loadLMM(out, { open: openSource });
  lmm.dispose();
  // Resuming restores the trained encoder from the checkpoint.
  const r = await runTraining(args({ model_name_or_path: base, dataset_path: data, output_dir: out, train_encoders: true, max_steps: 3, per_device_train_batch_size: 4, resume_from_checkpoint: path.join(out, 'checkpoint-2') }), quiet);
  assert.equal(r.state.global_step, 3);
});

test('NaN/inf guard: training stops with a clear message and keeps the last good checkpoint', async () => {
  const rows = vectorRows(16);
  // Values near float32's limit overflow inside the projector once training starts.
  rows[13].vectors = [Array(8).fill(3e38), Array(8).fill(-3e38)];
  const out = path.join(await tmpDir(), 'nan');
  let failedAt = 0;
  await assert.rejects(
    runTraining(args({ dataset_path: await writeJsonl(rows), output_dir: out, max_steps: 8, save_steps: 1, per_device_train_batch_size: 4 }), quiet),
    (e: Error) => {
      const m = /loss became (NaN|Infinity|-Infinity).* at step (\d+); stopping without updating/.exec(e.message);
      assert.ok(m, e.message);
      failedAt = Number(m[2]);
      if (failedAt > 1) assert.match(e.message, new RegExp(`Last good checkpoint: .*checkpoint-${failedAt - 1}$`));
      return true;
    },
  );
  assert.ok(failedAt > 1, 'the bad row should not come first with this seed, so a good checkpoint exists');
  const { loadLMM } = await import('../src/lmm/load.js');
  const { openSource } = await import('../node/folder-source.js');
  (await loadLMM(path.join(out, `checkpoint-${failedAt - 1}`), { open: openSource })).dispose();
});

test('--feature_cache: a second run never calls the encoder (the first encodes each row once), with identical losses', async () => {
  // Counts the rows the (frozen) vector encoder sees, across every modality instance runTraining creates.
  let encoded = 0;
  const encode = VectorModality.prototype.encode;
  VectorModality.prototype.encode = function (this: VectorModality, rows) {
    encoded += rows.length;
    return encode.call(this, rows);
  };
  try {
    const root = await tmpDir();
    const cache = path.join(root, 'cache');
    // 24 rows in batches of 8: steps 1-3 are epoch 1, step 4 revisits 8 rows in epoch 2.
    const plain = await runTraining(args({ output_dir: path.join(root, 'plain'), max_steps: 4 }), quiet);
    assert.equal(encoded, 24, 'frozen encoders: 32 row visits, each row encoded once (epoch 2 reuses the in-memory features)');
    encoded = 0;
    const a = await runTraining(args({ output_dir: path.join(root, 'a'), max_steps: 4, feature_cache: cache }), quiet);
    assert.equal(encoded, 24, 'the first run with --feature_cache encodes each row once and stores it');
    const shards = await readdir(cache);
    assert.ok(shards.length > 0, 'cache written');
    encoded = 0;
    const b = await runTraining(args({ output_dir: path.join(root, 'b'), max_steps: 4, feature_cache: cache }), quiet);
    assert.equal(encoded, 0, 'a second run reads every row from the cache on disk');
    assert.deepEqual(losses(a.state), losses(plain.state));
    assert.deepEqual(losses(b.state), losses(a.state));
  } finally {
    VectorModality.prototype.encode = encode;
  }
});
