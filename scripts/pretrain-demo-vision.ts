/**
 * Stage 0 of the demo-model recipe: supervised pretraining of the tiny CLIP-architecture vision tower.
 *
 * LLaVA starts from a pretrained CLIP; we cannot download one, and a randomly initialised ViT learns shapes
 * far too slowly through the language-model loss alone (measured: ~40% on shape questions after 400 steps,
 * colour 100%). So, standing in for CLIP's contrastive pretraining, the tower is first trained as an image
 * classifier — shape kind and colour of single-shape images from `dataset synth-shapes`, two linear heads on
 * the mean of its patch states, AdamW with warmup + cosine — and its weights are written back in Hugging Face
 * format. `multi-token train` then trains projector and LM on top (scripts/make-demo-model.sh).
 *
 *   npx tsx scripts/pretrain-demo-vision.ts --encoder DIR --data DIR [--steps 1500] [--batch 32] [--lr 2e-3]
 */
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { tf, type Tensor } from '../src/tf.js';
import { initRuntime } from '../node/runtime.js';
import { FolderSource } from '../node/folder-source.js';
import { localLoader } from '../node/media-local.js';
import { writeDirAtomic } from '../node/atomic-write.js';
import { CLIPVisionEncoder } from '../src/encoders/clip-vision.js';
import { ClipImagePreprocessor } from '../src/modality/vision-clip/clip-preprocess.js';
import { loadImage } from '../src/media/image-input.js';
import { AdamW } from '../src/train/adamw.js';
import { learningRate } from '../src/train/schedule.js';
import { serializeSafetensors, type RawTensor } from '../src/io/safetensors.js';
import { tensorToRaw } from '../src/io/weights.js';
import { Rng } from '../src/util/rng.js';
import { SHAPE_COLOURS, SHAPE_KINDS } from '../src/data/shapes-raster.js';

const { values: opt } = parseArgs({
  options: {
    encoder: { type: 'string' },
    data: { type: 'string' },
    steps: { type: 'string', default: '1500' },
    batch: { type: 'string', default: '32' },
    lr: { type: 'string', default: '2e-3' },
    seed: { type: 'string', default: '1' },
  },
});
if (!opt.encoder || !opt.data) throw new Error('usage: --encoder DIR --data DIR (a synth-shapes folder)');
const steps = Number(opt.steps);
const batchSize = Number(opt.batch);
await initRuntime({ backend: 'wasm' });

interface Example {
  file: string;
  kind: number;
  colour: number;
}
const COLOURS = Object.keys(SHAPE_COLOURS);
const meta = (await readFile(path.join(opt.data, 'meta.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
const examples = (split: string): Example[] =>
  meta
    .filter((m) => m.split === split)
    .flatMap((m) => m.images)
    .filter((img: { shapes: unknown[] }) => img.shapes.length === 1)
    .map((img: { file: string; shapes: { kind: string; colour: string }[] }) => ({
      file: img.file,
      kind: SHAPE_KINDS.indexOf(img.shapes[0].kind as never),
      colour: COLOURS.indexOf(img.shapes[0].colour),
    }));
const train = examples('train');
const test = examples('test');
console.error(`pretraining the vision tower on ${train.length} single-shape images (${test.length} held out)`);

const source = new FolderSource(opt.encoder);
const encoder = await CLIPVisionEncoder.load(source);
const processor = await ClipImagePreprocessor.load(source);
const loadBytes = localLoader({ baseDir: opt.data });
const pixelCache = new Map<string, Float32Array>();
async function pixels(items: Example[]): Promise<Tensor> {
  const s = encoder.imageSize;
  const all = new Float32Array(items.length * 3 * s * s);
  for (let i = 0; i < items.length; i++) {
    let px = pixelCache.get(items[i].file);
    if (!px) {
      px = await processor.pixelValues(await loadImage(items[i].file, { loadBytes }, items[i].file));
      pixelCache.set(items[i].file, px);
    }
    all.set(px, i * 3 * s * s);
  }
  return tf.tensor4d(all, [items.length, 3, s, s]);
}

const d = encoder.hiddenSize;
const rng = new Rng(Number(opt.seed));
const init = (rows: number, cols: number) => tf.tensor2d(Float32Array.from({ length: rows * cols }, () => rng.normal() * 0.02), [rows, cols]);
const kindHead = tf.variable(init(d, SHAPE_KINDS.length), true);
const colourHead = tf.variable(init(d, COLOURS.length), true);
const params = new Map<string, tf.Variable>([...encoder.parameters(), ['kind_head', kindHead], ['colour_head', colourHead]]);
for (const v of params.values()) v.trainable = true;
const byVarName = new Map([...params].map(([k, v]) => [v.name, k]));
const optimizer = new AdamW({ weightDecay: 0.05 });

/** Mean of the last layer's patch states (CLS dropped): the features the LM will read, pooled. */
const features = (x: Tensor) =>
  tf.tidy(() => {
    const out = encoder.forward(x);
    out.pooled.dispose();
    const [n, t] = out.lastHiddenState.shape as number[];
    return tf.mean(out.lastHiddenState.slice([0, 1, 0], [n, t - 1, d]), 1);
  });

const order = Array.from({ length: train.length }, (_, i) => i);
const t0 = performance.now();
for (let step = 0; step < steps; step++) {
  if ((step * batchSize) % train.length < batchSize) {
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(rng.next() * (i + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
  }
  const items = Array.from({ length: batchSize }, (_, i) => train[order[(step * batchSize + i) % train.length]]);
  const x = await pixels(items);
  const kinds = tf.oneHot(tf.tensor1d(items.map((e) => e.kind), 'int32'), SHAPE_KINDS.length);
  const colours = tf.oneHot(tf.tensor1d(items.map((e) => e.colour), 'int32'), COLOURS.length);
  const { value, grads } = tf.variableGrads(() => {
    const f = features(x);
    return tf.add(
      tf.losses.softmaxCrossEntropy(kinds, tf.matMul(f, kindHead)),
      tf.losses.softmaxCrossEntropy(colours, tf.matMul(f, colourHead)),
    ) as tf.Scalar;
  }, [...params.values()]);
  const lr = learningRate('cosine', Number(opt.lr), step, steps, Math.ceil(steps * 0.05));
  optimizer.apply(params, new Map(Object.entries(grads).map(([k, g]) => [byVarName.get(k)!, g])), lr, (n) => n.endsWith('.bias') || n.includes('norm'));
  if (step % 100 === 0 || step === steps - 1) {
    const rate = (step + 1) / ((performance.now() - t0) / 1000);
    console.error(`step ${step + 1}/${steps} loss ${value.dataSync()[0].toFixed(4)} lr ${lr.toExponential(2)} (${rate.toFixed(2)} steps/s, ETA ${((steps - step - 1) / rate / 60).toFixed(1)} min)`);
  }
  tf.dispose([x, kinds, colours, value, ...Object.values(grads)]);
}

let kindOk = 0;
let colourOk = 0;
for (let i = 0; i < test.length; i += 50) {
  const items = test.slice(i, i + 50);
  const x = await pixels(items);
  const [k, c] = tf.tidy(() => {
    const f = features(x);
    return [tf.argMax(tf.matMul(f, kindHead), -1).dataSync(), tf.argMax(tf.matMul(f, colourHead), -1).dataSync()];
  });
  items.forEach((e, j) => {
    kindOk += k[j] === e.kind ? 1 : 0;
    colourOk += c[j] === e.colour ? 1 : 0;
  });
  x.dispose();
}
console.error(`held-out accuracy: shape ${((100 * kindOk) / test.length).toFixed(1)}%, colour ${((100 * colourOk) / test.length).toFixed(1)}%`);

// Write the tower back (Hugging Face layout; the heads are dropped).
const files = new Map<string, Uint8Array | string>();
for (const name of ['config.json', 'preprocessor_config.json']) files.set(name, await source.readFile(name));
const raw = new Map<string, RawTensor>();
const state = encoder.stateDict();
for (const [k, t] of state) raw.set(k, await tensorToRaw(t));
files.set('model.safetensors', serializeSafetensors(raw, { format: 'pt' }));
await writeDirAtomic(opt.encoder, files);
console.error(`wrote ${opt.encoder}`);
