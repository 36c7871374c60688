import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  float32ToRaw,
  parseSafetensors,
  rawToFloat32,
  serializeSafetensors,
  SafetensorsError,
  type DType,
  type RawTensor,
} from '../src/io/safetensors.js';

const enc = new TextEncoder();

/** A safetensors file assembled by hand: u64 LE header length, the JSON text padded with spaces to 8, the data. */
function file(headerJson: string, data: number[]): Uint8Array {
  const json = enc.encode(headerJson);
  const padded = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + padded + data.length);
  out[0] = padded & 0xff;
  out[1] = padded >> 8;
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + padded);
  out.set(data, 8 + padded);
  return out;
}

const raw = (dtype: DType, shape: number[], data: number[]): RawTensor => ({ dtype, shape, data: Uint8Array.from(data) });

// Per dtype: little-endian bytes written out by hand, and the values they encode.
const CASES: { dtype: DType; shape: number[]; bytes: number[]; values: number[] }[] = [
  { dtype: 'F64', shape: [2], bytes: [0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0, 0, 0, 0, 0, 0, 0x04, 0xc0], values: [1, -2.5] },
  { dtype: 'F32', shape: [2], bytes: [0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0], values: [1, -2] },
  { dtype: 'F16', shape: [2], bytes: [0x00, 0x3c, 0x00, 0xc0], values: [1, -2] },
  { dtype: 'BF16', shape: [2], bytes: [0x80, 0x3f, 0x00, 0xc0], values: [1, -2] },
  { dtype: 'I64', shape: [2], bytes: [1, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], values: [1, -1] },
  { dtype: 'I32', shape: [2], bytes: [7, 0, 0, 0, 0xf8, 0xff, 0xff, 0xff], values: [7, -8] },
  { dtype: 'I16', shape: [2], bytes: [0x2c, 0x01, 0xfe, 0xff], values: [300, -2] },
  { dtype: 'I8', shape: [3], bytes: [1, 0xff, 0x7f], values: [1, -1, 127] },
  { dtype: 'U8', shape: [3], bytes: [0, 200, 255], values: [0, 200, 255] },
  { dtype: 'BOOL', shape: [3], bytes: [1, 0, 1], values: [1, 0, 1] },
];

for (const c of CASES) {
  test(`${c.dtype}: serialize matches hand-written bytes, parse reads them back`, () => {
    const header = `{"t":{"dtype":"${c.dtype}","shape":[${c.shape}],"data_offsets":[0,${c.bytes.length}]}}`;
    const expected = file(header, c.bytes);
    assert.deepEqual(serializeSafetensors({ t: raw(c.dtype, c.shape, c.bytes) }), expected);
    const parsed = parseSafetensors(expected);
    const t = parsed.tensors.get('t')!;
    assert.equal(t.dtype, c.dtype);
    assert.deepEqual(t.shape, c.shape);
    assert.deepEqual([...t.data], c.bytes);
    assert.deepEqual([...rawToFloat32(t)], c.values);
    assert.deepEqual(parsed.metadata, {});
  });
}

test('several dtypes: sorted by descending alignment then name, contiguous offsets, metadata first', () => {
  const tensors = new Map<string, RawTensor>([
    ['a', raw('BOOL', [1], [1])],
    ['b', raw('F32', [1], [0, 0, 0x80, 0x3f])],
    ['c', raw('I64', [], [5, 0, 0, 0, 0, 0, 0, 0])],
    ['e', raw('BF16', [1], [0x80, 0x3f])],
    ['d', raw('F16', [1, 1], [0x00, 0x3c])],
    ['d0', raw('F16', [0], [])],
  ]);
  const header =
    '{"__metadata__":{"format":"pt"},' +
    '"c":{"dtype":"I64","shape":[],"data_offsets":[0,8]},' +
    '"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]},' +
    '"e":{"dtype":"BF16","shape":[1],"data_offsets":[12,14]},' +
    '"d":{"dtype":"F16","shape":[1,1],"data_offsets":[14,16]},' +
    '"d0":{"dtype":"F16","shape":[0],"data_offsets":[16,16]},' +
    '"a":{"dtype":"BOOL","shape":[1],"data_offsets":[16,17]}}';
  const expected = file(header, [5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80, 0x3f, 0x80, 0x3f, 0x00, 0x3c, 1]);
  const bytes = serializeSafetensors(tensors, { format: 'pt' });
  assert.deepEqual(bytes, expected);
  const back = parseSafetensors(bytes);
  assert.deepEqual(back.metadata, { format: 'pt' });
  for (const [name, t] of tensors) {
    const got = back.tensors.get(name)!;
    assert.deepEqual([got.dtype, got.shape, [...got.data]], [t.dtype, t.shape, [...t.data]]);
  }
});

test('byte-identical to the reference implementation test vectors (safetensors tensor.rs)', () => {
  const data = new Uint8Array(new Float32Array([0, 1, 2, 3, 4, 5]).buffer);
  const out = serializeSafetensors({ 'attn.0': { dtype: 'F32', shape: [1, 2, 3], data } });
  assert.deepEqual([...out.subarray(0, 8)], [64, 0, 0, 0, 0, 0, 0, 0]);
  assert.equal(new TextDecoder().decode(out.subarray(8, 72)), '{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}');
  assert.deepEqual([...serializeSafetensors({})], [8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32]);
  const meta = serializeSafetensors({}, { framework: 'pt' });
  assert.deepEqual([...meta.subarray(0, 8)], [40, 0, 0, 0, 0, 0, 0, 0]);
  assert.equal(new TextDecoder().decode(meta.subarray(8)), '{"__metadata__":{"framework":"pt"}}     ');
});

test('parsing is zero-copy, and unaligned views still convert', () => {
  const bytes = serializeSafetensors({ x: float32ToRaw(Float32Array.of(1.5, -3), [2], 'F32') });
  const t = parseSafetensors(bytes).tensors.get('x')!;
  assert.equal(t.data.buffer, bytes.buffer);
  const shifted = new Uint8Array(bytes.length + 1);
  shifted.set(bytes, 1);
  const u = parseSafetensors(shifted.subarray(1)).tensors.get('x')!;
  assert.equal(u.data.byteOffset % 4, 1);
  assert.deepEqual([...rawToFloat32(u)], [1.5, -3]);
});

const bits16 = (t: RawTensor) => Array.from({ length: t.data.length / 2 }, (_, i) => t.data[2 * i]! | (t.data[2 * i + 1]! << 8));
const hex = (xs: number[]) => xs.map((x) => '0x' + x.toString(16).padStart(4, '0'));

test('F16: round to nearest even on hand-picked values, exact widening', () => {
  const input = Float32Array.of(1, -2, 65504, 1e-8, 1e-7, Infinity, NaN, 0.1, -Infinity, -0);
  const f16 = float32ToRaw(input, [input.length], 'F16');
  assert.deepEqual(
    hex(bits16(f16)),
    hex([0x3c00, 0xc000, 0x7bff, 0x0000, 0x0002, 0x7c00, 0x7e00, 0x2e66, 0xfc00, 0x8000]),
  );
  const back = rawToFloat32(f16);
  assert.deepEqual([...back], [1, -2, 65504, 0, 2 ** -23, Infinity, NaN, 0.0999755859375, -Infinity, -0]);
  // Ties go to even; past 65504 + half an ulp is infinity; subnormals round at 2^-25.
  const ties = Float32Array.of(2049, 2051, 65519, 65520, 2 ** -25, 3 * 2 ** -26, 2 ** -24, 6.1e-5);
  assert.deepEqual(hex(bits16(float32ToRaw(ties, [8], 'F16'))), hex([0x6800, 0x6802, 0x7bff, 0x7c00, 0, 1, 1, 0x03ff]));
  const sub = rawToFloat32(raw('F16', [3], [0x01, 0x00, 0xff, 0x03, 0x00, 0x80]));
  assert.deepEqual([...sub], [2 ** -24, 1023 * 2 ** -24, -0]);
});

test('BF16: round to nearest even on hand-picked values, exact widening', () => {
  const input = Float32Array.of(1, -2, 65504, 1e-8, Infinity, NaN, 0.1, 1 + 2 ** -8, 1 + 3 * 2 ** -8);
  const bf = float32ToRaw(input, [input.length], 'BF16');
  assert.deepEqual(hex(bits16(bf)), hex([0x3f80, 0xc000, 0x4780, 0x322c, 0x7f80, 0x7fc0, 0x3dcd, 0x3f80, 0x3f82]));
  const back = rawToFloat32(bf);
  assert.deepEqual([...back].slice(0, 3), [1, -2, 65536]);
  assert.ok(Math.abs(back[3]! - 1e-8) / 1e-8 < 2 ** -8);
  assert.deepEqual([...back].slice(4, 7), [Infinity, NaN, 0.10009765625]);
  // Smallest BF16 subnormal is a float32 subnormal: 2^-133.
  assert.equal(rawToFloat32(raw('BF16', [1], [0x01, 0x00]))[0], 2 ** -133);
});

/** Assert that parsing `bytes` as `name` throws a SafetensorsError whose message contains every fragment. */
function rejects(bytes: Uint8Array, fragments: string[], name = 'dir/model.safetensors'): void {
  assert.throws(
    () => parseSafetensors(bytes, name),
    (e: unknown) => {
      assert.ok(e instanceof SafetensorsError, String(e));
      assert.ok(e.message.startsWith(`${name}: `), e.message);
      for (const f of fragments) assert.ok(e.message.includes(f), `"${e.message}" lacks "${f}"`);
      return true;
    },
  );
}

test('malformed: truncated file names the file and the tensor', () => {
  const header = '{"model.layers.0.mlp.up_proj.weight":{"dtype":"F32","shape":[100],"data_offsets":[0,400]}}';
  const bytes = file(header, new Array(200).fill(0));
  assert.throws(() => parseSafetensors(bytes), {
    message:
      'model.safetensors: tensor "model.layers.0.mlp.up_proj.weight" data_offsets [0, 400] exceed data size 200 (file truncated?)',
  });
  rejects(new Uint8Array([1, 2, 3]), ['too short', 'truncated']);
});

test('malformed: header length larger than the file', () => {
  const bytes = file('{}', []);
  bytes[0] = 200;
  rejects(bytes, ['header length 200 exceeds the 8 bytes after it']);
  bytes.set([0, 0, 0, 0, 0, 0, 0, 0x80], 0);
  rejects(bytes, ['header length 9223372036854775808']);
});

test('malformed: header lying about offsets, sizes, dtype, shape, JSON, metadata', () => {
  const t = (info: string, data: number[], name = 'w') => file(`{"${name}":${info}}`, data);
  rejects(t('{"dtype":"F32","shape":[3],"data_offsets":[0,8]}', [0, 0, 0, 0, 0, 0, 0, 0]), [
    'tensor "w"',
    'hold 8 bytes, but F32 [3] needs 12',
  ]);
  rejects(t('{"dtype":"F32","shape":[1],"data_offsets":[4,0]}', [0, 0, 0, 0]), ['tensor "w"', '[4,0]']);
  rejects(t('{"dtype":"Q4_K","shape":[1],"data_offsets":[0,1]}', [0]), ['tensor "w"', 'unknown dtype "Q4_K"']);
  rejects(t('{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}', [0, 0, 0, 0]), ['tensor "w"', 'shape [-1]']);
  rejects(t('{"dtype":"U8","shape":[1]}', [0]), ['tensor "w"', 'data_offsets undefined']);
  rejects(file('{"w": {"dtype": "F32",', []), ['header is not valid JSON']);
  rejects(file('[1, 2]', []), ['not a JSON object']);
  rejects(file('{"__metadata__":{"epoch":3}}', []), ['__metadata__ "epoch" is 3, not a string']);
  const badUtf8 = file('{"w":1}', []);
  badUtf8[10] = 0xff;
  rejects(badUtf8, ['not valid UTF-8']);
});

test('malformed: overlapping offsets, gaps and trailing bytes', () => {
  const header = (a: [number, number], b: [number, number]) =>
    `{"a":{"dtype":"U8","shape":[${a[1] - a[0]}],"data_offsets":[${a}]},` +
    `"b":{"dtype":"U8","shape":[${b[1] - b[0]}],"data_offsets":[${b}]}}`;
  rejects(file(header([0, 8], [4, 12]), new Array(12).fill(0)), ['tensor "b" data_offsets [4, 12] overlap tensor "a" [0, 8]']);
  rejects(file(header([0, 4], [6, 8]), new Array(8).fill(0)), ['tensor "b" data_offsets [6, 8] leave 2 unused bytes']);
  rejects(file(header([0, 4], [4, 8]), new Array(10).fill(0)), ['2 bytes after the last tensor']);
});

test('serialize refuses inconsistent tensors, naming them', () => {
  assert.throws(() => serializeSafetensors({ w: raw('F32', [2], [0, 0, 0, 0]) }), /tensor "w": 4 data bytes, but F32 \[2\] needs 8/);
  assert.throws(() => serializeSafetensors({ __metadata__: raw('U8', [0], []) }), /reserved/);
  assert.throws(() => float32ToRaw(new Float32Array(3), [2, 2], 'F16'), /3 values do not fill shape \[2, 2\]/);
});

test('a tensor or metadata key called "__proto__" is an ordinary name', () => {
  const bytes = serializeSafetensors({ ['__proto__']: raw('U8', [1], [7]) } as Record<string, RawTensor>, {
    ['__proto__']: 'x',
  });
  const back = parseSafetensors(bytes);
  assert.deepEqual([...back.tensors.get('__proto__')!.data], [7]);
  assert.equal(Object.getOwnPropertyDescriptor(back.metadata, '__proto__')?.value, 'x');
});
