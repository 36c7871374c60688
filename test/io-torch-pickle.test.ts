import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { unzipSync, zipSync } from 'fflate';
import { float32ToRaw, rawToFloat32, type DType, type RawTensor } from '../src/io/safetensors.js';
import { parseTorchStateDict, serializeTorchStateDict, TorchPickleError } from '../src/io/torch-pickle.js';
import { rawToTensor } from '../src/io/weights.js';

/*
 * The fixtures were written by real PyTorch (Debian python3-torch 1.13) with:
 *
 *   import collections, torch
 *   sd = collections.OrderedDict()
 *   sd['w.f32'] = torch.arange(6, dtype=torch.float32).reshape(2, 3) / 4
 *   sd['w.f16'] = torch.tensor([1.0, -2.0, 65504.0, 0.1], dtype=torch.float16)
 *   sd['w.bf16'] = torch.tensor([[1.0, -2.0], [0.1, 3.5]], dtype=torch.bfloat16)
 *   sd['n.i64'] = torch.tensor([0, -1, 2**31 - 1, -2**31], dtype=torch.int64)
 *   sd['n.i32'] = torch.tensor([7, -8, 9], dtype=torch.int32)
 *   base = torch.arange(12, dtype=torch.float32).reshape(3, 4)
 *   sd['view.row'] = base[1]       # storage offset 4, shares its storage with view.rows
 *   sd['view.rows'] = base[1:]     # storage offset 4, shape [2, 4]
 *   sd['scalar'] = torch.tensor(2.5)
 *   sd['param'] = torch.nn.Parameter(torch.tensor([0.5, -0.5]))  # pickled via _rebuild_parameter
 *   torch.save(sd, 'torch-state-dict.bin')
 *   torch.save({'t': torch.arange(6, dtype=torch.float32).reshape(2, 3).t()}, 'torch-noncontiguous.bin')
 *
 * The writer's output was checked the other way by hand: `torch.load` of serializeTorchStateDict(<that dict>)
 * returns an OrderedDict equal to it (dtypes, shapes, values), every record STORED and 64-byte aligned.
 */
const fixture = (name: string) => new Uint8Array(readFileSync(new URL(`./fixtures/${name}`, import.meta.url)));

const values = (t: RawTensor) => (t.dtype === 'I64' || t.dtype === 'I32' ? [...rawToTensor(t).dataSync()] : [...rawToFloat32(t)]);

test('reads a state dict written by torch.save (all dtypes, offsets, shared storage, scalar, Parameter)', () => {
  const sd = parseTorchStateDict(fixture('torch-state-dict.bin'), 'torch-state-dict.bin');
  const got = Object.fromEntries([...sd].map(([k, t]) => [k, { dtype: t.dtype, shape: t.shape, values: values(t) }]));
  assert.deepEqual(got, {
    'w.f32': { dtype: 'F32', shape: [2, 3], values: [0, 0.25, 0.5, 0.75, 1, 1.25] },
    'w.f16': { dtype: 'F16', shape: [4], values: [1, -2, 65504, 0.0999755859375] },
    'w.bf16': { dtype: 'BF16', shape: [2, 2], values: [1, -2, 0.10009765625, 3.5] },
    'n.i64': { dtype: 'I64', shape: [4], values: [0, -1, 2147483647, -2147483648] },
    'n.i32': { dtype: 'I32', shape: [3], values: [7, -8, 9] },
    'view.row': { dtype: 'F32', shape: [4], values: [4, 5, 6, 7] },
    'view.rows': { dtype: 'F32', shape: [2, 4], values: [4, 5, 6, 7, 8, 9, 10, 11] },
    scalar: { dtype: 'F32', shape: [], values: [2.5] },
    param: { dtype: 'F32', shape: [2], values: [0.5, -0.5] },
  });
  // Views share the unzipped storage rather than copying it.
  assert.equal(sd.get('view.row')!.data.buffer, sd.get('view.rows')!.data.buffer);
});

test('refuses a non-contiguous view, naming the tensor', () => {
  assert.throws(() => parseTorchStateDict(fixture('torch-noncontiguous.bin'), 'nc.bin'), {
    name: 'TorchPickleError',
    message: 'nc.bin: tensor "t" is a non-contiguous view (shape [3, 2], stride [1, 3]); save it with .contiguous()',
  });
});

function sample(): Map<string, RawTensor> {
  const raw = (dtype: DType, shape: number[], data: number[]): RawTensor => ({ dtype, shape, data: Uint8Array.from(data) });
  return new Map<string, RawTensor>([
    ['a.f32', float32ToRaw(Float32Array.of(1, 2, 3, 4, 5, 6), [2, 3], 'F32')],
    ['a.f16', float32ToRaw(Float32Array.of(0.5, -1), [2], 'F16')],
    ['a.bf16', float32ToRaw(Float32Array.of(3, 1, 2, 4), [1, 2, 2, 1], 'BF16')],
    ['b.i64', raw('I64', [1], [0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])],
    ['b.i32', raw('I32', [], [9, 0, 0, 0])],
    ['c.f64', raw('F64', [1], [0, 0, 0, 0, 0, 0, 0xf0, 0x3f])],
    ['c.i16', raw('I16', [1], [1, 2])],
    ['c.i8', raw('I8', [2], [0xff, 1])],
    ['c.u8', raw('U8', [2], [200, 1])],
    ['c.bool', raw('BOOL', [2], [1, 0])],
    ['empty', raw('F32', [0, 4], [])],
    ['big.dim', raw('U8', [300, 1], new Array(300).fill(7))],
  ]);
}

test('writer → reader round trip for every dtype', () => {
  const sd = sample();
  const back = parseTorchStateDict(serializeTorchStateDict(sd));
  assert.deepEqual([...back.keys()], [...sd.keys()]);
  for (const [name, t] of sd) {
    const b = back.get(name)!;
    assert.deepEqual([b.dtype, b.shape, [...b.data]], [t.dtype, t.shape, [...t.data]], name);
  }
});

test('writer: STORED records aligned to 64 bytes, version "3\\n", byteorder "little"', () => {
  const zip = serializeTorchStateDict(sample());
  const view = new DataView(zip.buffer, zip.byteOffset, zip.byteLength);
  const names: string[] = [];
  for (let at = 0; view.getUint32(at, true) === 0x04034b50; ) {
    const method = view.getUint16(at + 8, true);
    const size = view.getUint32(at + 18, true);
    const nameLen = view.getUint16(at + 26, true);
    const extraLen = view.getUint16(at + 28, true);
    const name = new TextDecoder().decode(zip.subarray(at + 30, at + 30 + nameLen));
    const dataAt = at + 30 + nameLen + extraLen;
    assert.equal(method, 0, `${name} is not STORED`);
    assert.equal(dataAt % 64, 0, `${name} data at ${dataAt}`);
    names.push(name);
    at = dataAt + size;
  }
  assert.equal(names.length, 15);
  assert.deepEqual(names.slice(0, 3), ['archive/data.pkl', 'archive/byteorder', 'archive/data/0']);
  const files = unzipSync(zip);
  assert.equal(new TextDecoder().decode(files['archive/version']), '3\n');
  assert.equal(new TextDecoder().decode(files['archive/byteorder']), 'little');
});

/** A torch.save-style zip around a hand-written pickle. */
const zipPickle = (pkl: number[]) => zipSync({ 'archive/data.pkl': [Uint8Array.from(pkl), { level: 0 }] });
const str = (s: string) => [...new TextEncoder().encode(s)];
const binunicode = (s: string) => [0x58, s.length, 0, 0, 0, ...str(s)];

test('refuses pickles that name any other global, before running anything', () => {
  // PROTO 2; GLOBAL 'os system'; BINUNICODE 'echo pwned'; TUPLE1; REDUCE; STOP
  const evil = zipPickle([0x80, 2, 0x63, ...str('os\nsystem\n'), ...binunicode('echo pwned'), 0x85, 0x52, 0x2e]);
  assert.throws(() => parseTorchStateDict(evil, 'evil.bin'), {
    message: 'evil.bin: archive/data.pkl: refusing pickle global os.system: only plain state dicts of tensors are loaded (never code)',
  });
  const builtins = zipPickle([0x80, 2, 0x63, ...str('builtins\neval\n'), 0x2e]);
  assert.throws(() => parseTorchStateDict(builtins), /refusing pickle global builtins\.eval/);
});

test('malformed archives: not a zip, not a dict, non-tensor values, missing storage', () => {
  assert.throws(() => parseTorchStateDict(new Uint8Array([1, 2, 3]), 'x.bin'), (e: unknown) => {
    assert.ok(e instanceof TorchPickleError);
    return /^x\.bin: not a torch\.save zip archive/.test(e.message);
  });
  assert.throws(() => parseTorchStateDict(zipSync({ 'a.txt': new Uint8Array(1) }), 'x.bin'), /x\.bin: no <archive>\/data\.pkl/);
  assert.throws(() => parseTorchStateDict(zipPickle([0x80, 2, 0x5d, 0x2e]), 'x.bin'), /x\.bin: archive\/data\.pkl holds a list or tuple, not a state dict/);
  // {'epoch': 3}
  const epoch = zipPickle([0x80, 2, 0x7d, ...binunicode('epoch'), 0x4b, 3, 0x73, 0x2e]);
  assert.throws(() => parseTorchStateDict(epoch, 'x.bin'), { message: 'x.bin: tensor "epoch": value is not a tensor' });
  const files = unzipSync(serializeTorchStateDict(sample()));
  delete files['archive/data/1'];
  assert.throws(() => parseTorchStateDict(zipSync(files, { level: 0 }), 'x.bin'), {
    message: 'x.bin: tensor "a.f16": storage record archive/data/1 is missing',
  });
});
