/**
 * Tensor-by-tensor reading (src/io/lazy-weights.ts): headers only until a tensor is asked for, byte ranges over
 * HTTP (and a single download from a server that ignores Range), sharded checkpoints, errors that name the shard.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { float32ToRaw, type RawTensor } from '../src/io/safetensors.js';
import { shardTensors } from '../src/io/weights.js';
import { LazyWeights } from '../src/io/lazy-weights.js';
import { MemorySource, UrlSource } from '../src/io/source.js';

const tensors = new Map<string, RawTensor>([
  ['a.weight', float32ToRaw(Float32Array.of(1, 2, 3, 4), [2, 2], 'F32')],
  ['b.weight', float32ToRaw(Float32Array.of(5, 6, 7), [3], 'F32')],
  ['c.bias', float32ToRaw(Float32Array.of(8), [1], 'F16')],
]);
const values = (t: RawTensor) => [...t.data];

/** A fake server over `files`; `ranges` says whether it honours Range. Counts the bytes it sends. */
function server(files: Map<string, Uint8Array>, ranges: boolean) {
  const stats = { requests: 0, bytes: 0 };
  const fetchFn = (async (input: string | URL | Request, init?: RequestInit) => {
    const name = String(input).replace('http://host/m/', '');
    const body = files.get(name);
    stats.requests++;
    if (!body) return new Response(null, { status: 404 });
    if (init?.method === 'HEAD') return new Response(null, { status: 200, headers: { 'content-length': String(body.length) } });
    const range = new Headers(init?.headers).get('range');
    const m = range && ranges ? /bytes=(\d+)-(\d+)/.exec(range) : null;
    const out = m ? body.slice(Number(m[1]), Number(m[2]) + 1) : body;
    stats.bytes += out.length;
    return new Response(out as unknown as BodyInit, { status: m ? 206 : 200 });
  }) as typeof fetch;
  return { source: new UrlSource('http://host/m', fetchFn), stats };
}

test('sharded checkpoint: headers first, then each tensor by byte range; order and errors as readWeightFiles', async () => {
  const files = shardTensors(tensors, 20); // three shards + index
  assert.ok(files.has('model.safetensors.index.json'));
  const { source, stats } = server(files, true);
  const lazy = await LazyWeights.open(source);
  assert.deepEqual(lazy.keys(), ['a.weight', 'b.weight', 'c.bias']);
  assert.deepEqual(lazy.info('c.bias'), { name: 'c.bias', dtype: 'F16', shape: [1], nbytes: 2 });
  const headerBytes = stats.bytes;
  for (const [name, t] of tensors) assert.deepEqual(values(await lazy.read(name)), values(t), name);
  assert.equal(stats.bytes - headerBytes, 16 + 12 + 2, 'only the tensor bytes were fetched after the headers');
  await assert.rejects(lazy.read('nope'), /missing weight "nope" in http:\/\/host\/m\/model\.safetensors\.index\.json \(have 3 tensors\)/);

  // An index naming a tensor its shard lacks.
  const bad = new Map(files);
  const index = JSON.parse(new TextDecoder().decode(files.get('model.safetensors.index.json')!));
  index.weight_map['ghost.weight'] = Object.values(index.weight_map)[0];
  bad.set('model.safetensors.index.json', new TextEncoder().encode(JSON.stringify(index)));
  await assert.rejects(LazyWeights.open(new MemorySource(bad, 'mem:')), /missing tensor "ghost.weight", which model.safetensors.index.json places in this shard/);
});

test('a server that ignores Range is read once per file, not once per tensor', async () => {
  const files = shardTensors(tensors, 1e6);
  const { source, stats } = server(files, false);
  const lazy = await LazyWeights.open(source);
  for (const [name, t] of tensors) assert.deepEqual(values(await lazy.read(name)), values(t), name);
  assert.equal(stats.bytes, files.get('model.safetensors')!.length, 'one download of the file');
});
