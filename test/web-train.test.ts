/**
 * The page's training code (web/src/train/), run in Node where it does not need a DOM: the session trains a
 * tiny vision model on File pictures, its download holds the files `multi-token train` writes for the same
 * mode (and they load with `loadLMM(dir, { base })` to the same weights), and dataset folders in the
 * project's schema (JSONL, save_to_disk Arrow) are read with bad rows reported by id.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { PNG } from 'pngjs';
import { tableToIPC } from 'apache-arrow';
import { tf } from '../src/tf.js';
import '@tensorflow/tfjs-backend-wasm';
import { installKernelFallbacks } from '../src/backend-fallbacks.js';
import { writeDirAtomic } from '../node/atomic-write.js';
import { FolderSource, openSource } from '../node/folder-source.js';
import { makeTinyMultimodalFiles } from '../src/tiny/tiny-multimodal.js';
import { loadLMM } from '../src/lmm/load.js';
import { inferRowsSchema, rowsToTable } from '../src/data/arrow-rows.js';
import { runTraining } from '../node/train/run-training.js';
import { TRAIN_DEFAULTS } from '../node/train/args.js';
import { TrainSession } from '../web/src/train/session.js';
import { readDatasetFolder } from '../web/src/train/dataset-folder.js';
import type { TrainExample } from '../web/src/train/examples.js';
import type { TrainSettings } from '../web/src/train/run-store.js';
import { tmpDir } from './helpers/tiny-vector.js';
import '../node/index.js';

await tf.setBackend('wasm');
installKernelFallbacks('wasm');

const root = await tmpDir('mt-web-train-');
const base = path.join(root, 'base');
await writeDirAtomic(base, await makeTinyMultimodalFiles({ arch: 'llama', modalities: ['vision_clip'], hiddenSize: 32, numHiddenLayers: 1, seed: 3 }));

function png(rgb: [number, number, number]): Uint8Array {
  const p = new PNG({ width: 32, height: 32 });
  for (let i = 0; i < 32 * 32; i++) p.data.set([...rgb, 255], i * 4);
  return new Uint8Array(PNG.sync.write(p));
}
const pictures = [png([220, 30, 30]), png([30, 30, 220]), png([220, 30, 30]), png([30, 30, 220])];
const answers = ['red', 'blue', 'red', 'blue'];
const examples: TrainExample[] = pictures.map((bytes, i) => ({
  id: `p${i}`,
  pictures: [new File([bytes as Uint8Array<ArrayBuffer>], `p${i}.png`, { type: 'image/png' })],
  qa: { question: 'Colour?', answer: answers[i] },
  messages: [],
  origin: 'file',
}));
const input = { token: '<image>', dataKey: 'images' };

/** What `multi-token train` writes for the same mode (its final folder, checkpoints aside). */
async function cliFiles(mode: 'projector' | 'lora'): Promise<string[]> {
  const out = path.join(root, `cli-${mode}`);
  const data = path.join(root, 'cli-data');
  await mkdir(data, { recursive: true });
  const rows = pictures.map((b, i) => ({ id: `p${i}`, images: [`p${i}.png`], messages: [{ role: 'user', content: '<image>\nColour?' }, { role: 'assistant', content: answers[i] }] }));
  for (let i = 0; i < pictures.length; i++) await writeFile(path.join(data, `p${i}.png`), pictures[i]);
  await writeFile(path.join(data, 'train.jsonl'), rows.map((r) => JSON.stringify(r)).join('\n'));
  await runTraining({
    ...TRAIN_DEFAULTS, model_name_or_path: base, dataset_path: path.join(data, 'train.jsonl'), output_dir: out, max_steps: 1, save_steps: 0,
    per_device_train_batch_size: 4, progress: false, pretrain_projectors: mode === 'projector', lora_enable: mode === 'lora', lora_r: 2, save_encoders: true,
  }, () => {});
  return (await readdir(out, { recursive: true })).filter((n) => !n.startsWith('checkpoint-') && n.includes('.')).sort();
}

async function sessionFiles(mode: 'projector' | 'lora'): Promise<{ names: string[]; dir: string; weights: Map<string, Float32Array> }> {
  const lmm = await loadLMM(base, { open: openSource });
  const session = new TrainSession(lmm, openSource(base), base, input, null);
  const settings: TrainSettings = { mode, rank: 2, steps: 2, learningRate: 1e-2, batchSize: 4 };
  const steps: number[] = [];
  const state = await session.run(examples, settings, { kind: 'fresh' }, { onLosses: (s) => steps.push(...s.map((x) => x.step)) }, new AbortController().signal);
  assert.equal(state.global_step, 2);
  assert.deepEqual(steps, [1, 2], 'every step reported once');
  const files = await session.resultFiles();
  const dir = path.join(root, `session-${mode}`);
  await writeDirAtomic(dir, files);
  const weights = new Map<string, Float32Array>();
  for (const [k, v] of [...lmm.projectorParameters(), ...lmm.loraParameters()]) weights.set(k, (await v.data()) as Float32Array);
  session.dispose();
  lmm.dispose();
  return { names: [...files.keys()].sort(), dir, weights };
}

for (const mode of ['projector', 'lora'] as const) {
  test(`${mode}: the page's download holds the files multi-token train writes and loads to the trained weights`, async () => {
    const [cli, page] = [await cliFiles(mode), await sessionFiles(mode)];
    assert.deepEqual(page.names, cli);
    if (mode === 'lora') assert.ok(page.names.includes('adapter_model.safetensors') && page.names.includes('adapter_config.json'));
    const loaded = await loadLMM(page.dir, { base, open: openSource, mergeLora: false });
    const params = new Map([...loaded.projectorParameters(), ...loaded.loraParameters()]);
    assert.equal(params.size, page.weights.size);
    for (const [k, w] of page.weights) assert.deepEqual(await params.get(k)!.data(), w, k);
    loaded.dispose();
  });
}

test('a stopped session continues where it stopped, on the same trajectory', async () => {
  const run = async (stopAfter: number | null) => {
    const lmm = await loadLMM(base, { open: openSource });
    const session = new TrainSession(lmm, new FolderSource(base), base, input, null);
    const settings: TrainSettings = { mode: 'projector', rank: 2, steps: 4, learningRate: 1e-2, batchSize: 2 };
    const losses: number[] = [];
    const ctl = new AbortController();
    await session.run(examples, settings, { kind: 'fresh' }, {
      onLosses: (s) => {
        losses.push(...s.map((x) => x.loss));
        if (stopAfter !== null && losses.length === stopAfter) ctl.abort();
      },
    }, ctl.signal);
    if (stopAfter !== null) {
      assert.equal(losses.length, stopAfter);
      await session.run(examples, settings, { kind: 'continue' }, { onLosses: (s) => losses.push(...s.map((x) => x.loss)) }, new AbortController().signal);
    }
    session.dispose();
    lmm.dispose();
    return losses;
  };
  assert.deepEqual(await run(2), await run(null));
});

test('an example without an answer is named; an empty list is refused', async () => {
  const lmm = await loadLMM(base, { open: openSource });
  const session = new TrainSession(lmm, new FolderSource(base), base, input, null);
  assert.throws(() => session.encode([{ ...examples[0], qa: { question: 'Colour?', answer: ' ' } }]), /"p0\.png": no answer yet/);
  assert.throws(() => session.encode([]), /add at least one picture/);
  session.dispose();
  lmm.dispose();
});

test('dataset folders: JSONL with relative paths, save_to_disk Arrow; bad rows skipped by id', async () => {
  const f = (name: string, data: Uint8Array | string, type = '') => new File([typeof data === 'string' ? data : (data as Uint8Array<ArrayBuffer>)], name, { type });
  const rows = [
    { id: 'a', images: ['pics/a.png'], messages: [{ role: 'user', content: '<image>\nColour?' }, { role: 'assistant', content: 'red' }] },
    { id: 'b', images: ['/home/someone/data/pics/b.png'], messages: [{ role: 'user', content: '<image>' }, { role: 'assistant', content: 'blue' }] },
    { id: 'c', images: ['https://example.org/c.png'], messages: [{ role: 'user', content: '<image>' }, { role: 'assistant', content: 'x' }] },
    { id: 'd', images: ['pics/missing.png'], messages: [{ role: 'user', content: '<image>' }, { role: 'assistant', content: 'x' }] },
    { id: 'e', speech_audios: ['s.wav'], messages: [{ role: 'user', content: '<speech>' }, { role: 'assistant', content: 'x' }] },
  ];
  const files = [f('ds/train.jsonl', rows.map((r) => JSON.stringify(r)).join('\n')), f('ds/pics/a.png', pictures[0]), f('ds/pics/b.png', pictures[1]), f('ds/.git/x', 'ignored')];
  const ds = await readDatasetFolder(files, input);
  assert.equal(ds.name, 'ds');
  assert.deepEqual(ds.examples.map((e) => [e.id, e.pictures[0].name.split('/').pop()]), [['a', 'a.png'], ['b', 'b.png']]);
  assert.deepEqual(ds.skipped.map((s) => s.id), ['c', 'd', 'e']);
  assert.match(ds.skipped[0].reason, /is a URL .* nothing is fetched/);
  assert.match(ds.skipped[1].reason, /"pics\/missing\.png" is not in the picked folder/);
  assert.match(ds.skipped[2].reason, /speech_audios, which this panel cannot train on/);

  // The same two good rows as a datasets save_to_disk folder.
  const good = rows.slice(0, 2);
  const table = rowsToTable(good, inferRowsSchema(good));
  const arrow = [f('hf/data-00000-of-00001.arrow', tableToIPC(table, 'stream')), f('hf/state.json', JSON.stringify({ _data_files: [{ filename: 'data-00000-of-00001.arrow' }] })), f('hf/pics/a.png', pictures[0]), f('hf/pics/b.png', pictures[1])];
  const hf = await readDatasetFolder(arrow, input);
  assert.deepEqual(hf.examples.map((e) => e.id), ['a', 'b']);
  assert.deepEqual(hf.examples[0].messages, good[0].messages);
  await assert.rejects(readDatasetFolder([f('x/a.txt', 'hi')], input), /no rows found/);
});
