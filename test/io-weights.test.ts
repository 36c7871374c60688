import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../src/tf.js';
import { MemorySource } from '../src/io/source.js';
import { float32ToRaw, parseSafetensors, serializeSafetensors, type DType, type RawTensor } from '../src/io/safetensors.js';
import { serializeTorchStateDict } from '../src/io/torch-pickle.js';
import { WeightStore, rawToTensor, readWeightFiles, shardTensors, tensorToRaw } from '../src/io/weights.js';

const raw = (dtype: DType, shape: number[], data: number[]): RawTensor => ({ dtype, shape, data: Uint8Array.from(data) });
const f32 = (shape: number[], ...values: number[]) => float32ToRaw(Float32Array.from(values), shape, 'F32');
const bytesOf = (t: RawTensor) => [...t.data];

test('rawToTensor: float dtypes → float32, small ints → int32, BOOL → bool', () => {
  const cases: [RawTensor, string, number[]][] = [
    [f32([2], 1.5, -2), 'float32', [1.5, -2]],
    [float32ToRaw(Float32Array.of(1, 0.5), [2], 'F16'), 'float32', [1, 0.5]],
    [float32ToRaw(Float32Array.of(-3, 0.25), [2], 'BF16'), 'float32', [-3, 0.25]],
    [raw('F64', [1], [0, 0, 0, 0, 0, 0, 0xf0, 0x3f]), 'float32', [1]],
    [raw('I32', [2], [7, 0, 0, 0, 0xf8, 0xff, 0xff, 0xff]), 'int32', [7, -8]],
    [raw('I16', [1], [0xfe, 0xff]), 'int32', [-2]],
    [raw('I8', [2], [0xff, 5]), 'int32', [-1, 5]],
    [raw('U8', [2], [200, 5]), 'int32', [200, 5]],
    [raw('I64', [2], [0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0, 0, 0, 0, 0x80, 0xff, 0xff, 0xff, 0xff]), 'int32', [2147483647, -2147483648]],
    [raw('BOOL', [3], [1, 0, 1]), 'bool', [1, 0, 1]],
  ];
  for (const [t, dtype, values] of cases) {
    const x = rawToTensor(t);
    assert.equal(x.dtype, dtype, t.dtype);
    assert.deepEqual(x.shape, t.shape);
    assert.deepEqual([...x.dataSync()], values, t.dtype);
    x.dispose();
  }
});

test('rawToTensor: I64 outside int32 names the tensor', () => {
  const big = raw('I64', [2], [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80, 0, 0, 0, 0]); // 0, 2^31
  assert.throws(() => rawToTensor(big, 'model.position_ids'), {
    message: 'tensor "model.position_ids": I64 value 2147483648 at flat index 1 does not fit in int32 (tfjs\'s integer type)',
  });
});

test('tensorToRaw: defaults and conversions round-trip through rawToTensor', async () => {
  const x = tf.tensor([[1, -2.5], [0.1, 3]]);
  assert.deepEqual(await tensorToRaw(x), f32([2, 2], 1, -2.5, 0.1, 3));
  const half = await tensorToRaw(x, 'F16');
  assert.equal(half.dtype, 'F16');
  assert.deepEqual([...rawToTensor(half).dataSync()], [1, -2.5, 0.0999755859375, 3]);
  assert.equal((await tensorToRaw(x, 'BF16')).data.byteLength, 8);
  const i = tf.tensor([3, -4], [2], 'int32');
  assert.deepEqual(bytesOf(await tensorToRaw(i)), [3, 0, 0, 0, 0xfc, 0xff, 0xff, 0xff]);
  assert.deepEqual(bytesOf(await tensorToRaw(i, 'I64')), [3, 0, 0, 0, 0, 0, 0, 0, 0xfc, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
  await assert.rejects(tensorToRaw(tf.tensor([300], [1], 'int32'), 'I8'), /value 300 at flat index 0 does not fit in I8/);
  assert.deepEqual(await tensorToRaw(tf.tensor([true, false], [2], 'bool')), raw('BOOL', [2], [1, 0]));
  await assert.rejects(tensorToRaw(x, 'I32'), /cannot store a float32 tensor as I32/);
});

function stateDict(): Map<string, RawTensor> {
  return new Map<string, RawTensor>([
    ['model.embed_tokens.weight', f32([2, 3], 1, 2, 3, 4, 5, 6)], // 24 bytes
    ['model.layers.0.weight', f32([4], 1, 2, 3, 4)], // 16
    ['model.layers.1.weight', f32([4], 5, 6, 7, 8)], // 16
    ['lm_head.weight', f32([10], ...Array.from({ length: 10 }, (_, i) => i))], // 40: bigger than the limit
    ['model.norm.weight', raw('BF16', [2], [0x80, 0x3f, 0x00, 0x40])], // 4
  ]);
}

test('shardTensors + readWeightFiles: sharded round trip like save_pretrained', async () => {
  const sd = stateDict();
  const files = shardTensors(sd, 32);
  // 24 | 40 | 16+16 | 4: like huggingface_hub, a tensor over the limit is its own shard, closed at once
  // (before the shard being filled), so it comes out ahead of layers 0-1.
  const names = [1, 2, 3, 4].map((i) => `model-0000${i}-of-00004.safetensors`);
  assert.deepEqual([...files.keys()], [...names, 'model.safetensors.index.json']);
  const index = new TextDecoder().decode(files.get('model.safetensors.index.json'));
  assert.equal(
    index,
    `{
  "metadata": {
    "total_size": 100
  },
  "weight_map": {
    "lm_head.weight": "model-00002-of-00004.safetensors",
    "model.embed_tokens.weight": "model-00001-of-00004.safetensors",
    "model.layers.0.weight": "model-00003-of-00004.safetensors",
    "model.layers.1.weight": "model-00003-of-00004.safetensors",
    "model.norm.weight": "model-00004-of-00004.safetensors"
  }
}
`,
  );
  assert.deepEqual(parseSafetensors(files.get(names[1]!)!).metadata, { format: 'pt' });
  const back = await readWeightFiles(new MemorySource(files, 'memory:sharded'));
  assert.deepEqual([...back.keys()].sort(), [...sd.keys()].sort());
  for (const [name, t] of sd) assert.deepEqual(bytesOf(back.get(name)!), bytesOf(t), name);

  const one = shardTensors(sd, 1000, 'adapter_model');
  assert.deepEqual([...one.keys()], ['adapter_model.safetensors']);
  const again = await readWeightFiles(new MemorySource(one), { prefix: 'adapter_model' });
  assert.equal(again.size, sd.size);
});

test('readWeightFiles: a tensor the index places in a shard that lacks it', async () => {
  const files = shardTensors(stateDict(), 32);
  files.set('model-00003-of-00004.safetensors', serializeSafetensors({ 'model.layers.0.weight': f32([4], 0, 0, 0, 0) }));
  await assert.rejects(readWeightFiles(new MemorySource(files, '/models/tiny')), {
    message:
      '/models/tiny/model-00003-of-00004.safetensors: missing tensor "model.layers.1.weight", ' +
      'which model.safetensors.index.json places in this shard',
  });
  files.set('model.safetensors.index.json', new TextEncoder().encode('{"metadata": {}}'));
  await assert.rejects(readWeightFiles(new MemorySource(files, '/models/tiny')), /index\.json: missing "weight_map"/);
});

test('readWeightFiles: no weights names the location; falls back to pytorch_model.bin', async () => {
  await assert.rejects(readWeightFiles(new MemorySource({ 'config.json': '{}' }, '/models/empty')), {
    message:
      'no weights in /models/empty: looked for model.safetensors, model.safetensors.index.json, ' +
      'pytorch_model.bin, pytorch_model.bin.index.json',
  });
  const sd = stateDict();
  const bin = await readWeightFiles(new MemorySource({ 'pytorch_model.bin': serializeTorchStateDict(sd) }));
  for (const [name, t] of sd) assert.deepEqual(bytesOf(bin.get(name)!), bytesOf(t));
  const single = await readWeightFiles(new MemorySource({ 'model.safetensors': serializeSafetensors(sd) }));
  assert.equal(single.size, sd.size);
  await assert.rejects(
    readWeightFiles(new MemorySource({ 'model.safetensors': new Uint8Array(4) }, '/m')),
    /^SafetensorsError: \/m\/model\.safetensors: file is 4 bytes/,
  );
});

test('WeightStore: get, shapes, used/unused, and the missing-weight message', () => {
  const store = new WeightStore(stateDict(), '/models/tiny');
  assert.equal(store.has('model.norm.weight'), true);
  const w = store.get('model.embed_tokens.weight', [2, 3]);
  assert.deepEqual(w.arraySync(), [
    [1, 2, 3],
    [4, 5, 6],
  ]);
  store.get('model.layers.0.weight', [-1]).dispose();
  assert.deepEqual([...store.used()], ['model.embed_tokens.weight', 'model.layers.0.weight']);
  assert.deepEqual(store.unused(), ['model.layers.1.weight', 'lm_head.weight', 'model.norm.weight']);
  assert.throws(() => store.get('model.layers.2.weight'), {
    message:
      'missing weight "model.layers.2.weight" in /models/tiny (have 5 tensors; similar: ' +
      'model.layers.0.weight, model.layers.1.weight, model.embed_tokens.weight)',
  });
  assert.throws(() => store.get('layers.1.weight'), /similar: model\.layers\.1\.weight,/);
  assert.throws(() => new WeightStore(new Map(), 'x').get('a'), { message: 'missing weight "a" in x (have 0 tensors)' });
  assert.throws(() => store.get('model.embed_tokens.weight', [3, 2]), {
    message: 'weight "model.embed_tokens.weight" in /models/tiny has shape [2, 3], expected [3, 2]',
  });
  assert.deepEqual(store.keys(), [...stateDict().keys()]);
  w.dispose();
});
