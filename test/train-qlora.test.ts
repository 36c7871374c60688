/**
 * QLoRA (`train --bits 4|8`) on the Node engine: the base LM is held int4/int8 (MatMulNBits) and frozen, LoRA
 * and projectors train in f32; the loss falls, the quantized base is unchanged (in memory and on disk), the adapter
 * files are the ordinary PEFT ones, and they load back on the quantized base (kept beside it, unmerged).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { tf } from '../src/tf.js';
import { isEvalEntry, type LogEntry } from '../src/train/trainer.js';
import '../node/index.js';
import { selectNodeBackend } from '../node/backend.js';
import { runTraining } from '../node/train/run-training.js';
import { TRAIN_DEFAULTS, type TrainArgs } from '../node/train/args.js';
import { quantizeFolder } from '../node/quantize/quantize-folder.js';
import { openSource } from '../node/folder-source.js';
import { loadLMM } from '../src/lmm/load.js';
import { parseSafetensors } from '../src/io/safetensors.js';
import { dequantizeRows } from '../src/quant/nbits.js';
import { tmpDir, tinyVectorModel, vectorRows, writeJsonl } from './helpers/tiny-vector.js';

await selectNodeBackend({ force: 'wasm+onnxruntime', quiet: true });

const model = await tinyVectorModel();
const dataset = await writeJsonl(vectorRows(24));
const quiet = () => {};
const mean = (a: number[]) => a.reduce((s, x) => s + x, 0) / a.length;
const sha = async (file: string) => createHash('sha256').update(await readFile(file)).digest('hex');

function args(over: Partial<TrainArgs>): TrainArgs {
  return {
    ...TRAIN_DEFAULTS,
    model_name_or_path: model,
    dataset_path: dataset,
    output_dir: '',
    per_device_train_batch_size: 8,
    learning_rate: 1e-2,
    max_steps: 12,
    logging_steps: 1,
    save_steps: 0,
    progress: false,
    lora_enable: true,
    lora_r: 4,
    lora_alpha: 8,
    ...over,
  };
}

test('QLoRA on a 4-bit checkpoint: loss falls, the int4 base is unchanged, PEFT adapter files, reload beside the base', async () => {
  const root = await tmpDir();
  const q4 = path.join(root, 'q4');
  await quantizeFolder({ model, out: q4, bits: 4, progress: false });
  const file = path.join(q4, 'model.safetensors');
  const before = await sha(file);
  const stored = parseSafetensors(new Uint8Array(await readFile(file))).tensors;
  const out = path.join(root, 'qlora');
  let checked = 0;
  const r = await runTraining(args({ model_name_or_path: q4, output_dir: out }), quiet, (lmm) => {
    for (const [name, layer] of lmm.lm.linears()) {
      assert.equal(layer.frozen?.dtype, 'int4', `${name} is held as int4`);
      const codes = {
        n: layer.outFeatures, k: layer.inFeatures, bits: 4 as const, groupSize: 32,
        qweight: stored.get(`${name}.qweight`)!.data,
        scales: new Uint16Array(stored.get(`${name}.scales`)!.data.slice().buffer),
        qzeros: stored.get(`${name}.qzeros`)!.data,
      };
      assert.deepEqual(layer.frozen!.toFloat32(), dequantizeRows(codes), `${name}: the quantized base changed`);
      checked++;
    }
  });
  assert.equal(checked, 2 * 7);
  assert.equal(await sha(file), before, 'the checkpoint file is untouched');
  const l = r.state.log_history.filter((e) => !isEvalEntry(e)).map((e) => (e as LogEntry).loss);
  assert.ok(mean(l.slice(-3)) < mean(l.slice(0, 3)) * 0.8, `loss ${l.map((x) => x.toFixed(2))}`);
  const adapter = parseSafetensors(new Uint8Array(await readFile(path.join(out, 'adapter_model.safetensors')))).tensors;
  assert.equal([...adapter.keys()].filter((k) => /lora_[AB]\.weight$/.test(k)).length, 2 * 2 * 7);
  assert.ok(JSON.parse(await readFile(path.join(out, 'adapter_config.json'), 'utf8')).peft_type === 'LORA');

  // Served on the 4-bit base: adapters stay beside the frozen int4 weights and change the output.
  const served = await loadLMM(out, { base: q4, open: openSource });
  const bare = await loadLMM(q4, { open: openSource });
  assert.ok(served.lora && served.lora.size === 14, 'adapters kept unmerged on int4 weights');
  const ids = tf.tensor2d([[3, 5, 7, 9]], undefined, 'int32');
  const a = served.lm.forward({ inputIds: ids, logits: 'last' }).logits!;
  const b = bare.lm.forward({ inputIds: ids, logits: 'last' }).logits!;
  assert.ok(tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]! > 1e-4, 'the adapter changes the logits');
  served.dispose();
  bare.dispose();
});

test('--bits 8 quantizes a float base at load; --bits with a full finetune is refused', async () => {
  const root = await tmpDir();
  const r = await runTraining(args({ bits: 8, output_dir: path.join(root, 'q8'), max_steps: 6 }), quiet, (lmm) => {
    for (const layer of lmm.lm.linears().values()) assert.equal(layer.frozen?.dtype, 'int8');
  });
  assert.equal(r.state.global_step, 6);
  await assert.rejects(runTraining(args({ bits: 4, lora_enable: false, output_dir: path.join(root, 'full') }), quiet),
    /--bits 4 keeps the base LM frozen: train LoRA \(--lora_enable true\) or only the projectors/);
});
