/**
 * From checkpoint files to tensors and back: reading single or sharded safetensors (or PyTorch `.bin`) through a
 * `ModelSource`, converting stored dtypes to the dtypes tfjs computes in, and sharding a state dict the way
 * Hugging Face `save_pretrained` does.
 */
import type { tf } from '../tf.js';
import { ModelFileError, joinLocation, readJSON, type ModelSource } from './source.js';
import { compareCodePoints, parseSafetensors, serializeSafetensors, type RawTensor } from './safetensors.js';
import { rawToTensor } from './raw-tensor.js';

export { rawToTensor, tensorToRaw } from './raw-tensor.js';

/** Options for {@link readWeightFiles}. */
export interface ReadWeightsOptions {
  /** File stem: `'model'` (default) reads `model.safetensors`; `'adapter_model'` reads `adapter_model.safetensors`. */
  prefix?: string;
}

type Parse = (bytes: Uint8Array, file: string) => Map<string, RawTensor> | Promise<Map<string, RawTensor>>;

/**
 * Read every weight of a checkpoint: `<prefix>.safetensors`, else `<prefix>.safetensors.index.json` and the
 * shards its `weight_map` names (each listed tensor must be in its shard), else the PyTorch equivalents
 * (`pytorch_model.bin` for prefix `model`, `<prefix>.bin` otherwise, and their `.index.json`).
 * Throws a `ModelFileError` naming the source location if none exists.
 */
export async function readWeightFiles(
  source: ModelSource,
  opts: ReadWeightsOptions = {},
): Promise<Map<string, RawTensor>> {
  const prefix = opts.prefix ?? 'model';
  const single = `${prefix}.safetensors`;
  const bin = prefix === 'model' ? 'pytorch_model.bin' : `${prefix}.bin`;
  const parseSt: Parse = (bytes, file) => parseSafetensors(bytes, file).tensors;
  const parseBin: Parse = async (bytes, file) => (await import('./torch-pickle.js')).parseTorchStateDict(bytes, file);
  const candidates: [string, (name: string) => Promise<Map<string, RawTensor>>][] = [
    [single, (n) => readOne(source, n, parseSt)],
    [`${single}.index.json`, (n) => readSharded(source, n, parseSt)],
    [bin, (n) => readOne(source, n, parseBin)],
    [`${bin}.index.json`, (n) => readSharded(source, n, parseBin)],
  ];
  for (const [name, read] of candidates) {
    if (await source.exists(name)) return read(name);
  }
  throw new ModelFileError(
    `no weights in ${source.location}: looked for ${candidates.map(([n]) => n).join(', ')}`,
  );
}

async function readOne(source: ModelSource, name: string, parse: Parse): Promise<Map<string, RawTensor>> {
  return parse(await source.readFile(name), joinLocation(source.location, name));
}

async function readSharded(source: ModelSource, indexName: string, parse: Parse): Promise<Map<string, RawTensor>> {
  const where = joinLocation(source.location, indexName);
  const index = await readJSON<{ weight_map?: unknown }>(source, indexName);
  const map = typeof index === 'object' && index !== null ? index.weight_map : undefined;
  if (typeof map !== 'object' || map === null || Array.isArray(map)) {
    throw new ModelFileError(`${where}: missing "weight_map" object`);
  }
  const byShard = new Map<string, string[]>();
  for (const [tensor, shard] of Object.entries(map)) {
    if (typeof shard !== 'string' || shard === '') {
      throw new ModelFileError(`${where}: weight_map["${tensor}"] is ${JSON.stringify(shard)}, not a file name`);
    }
    const names = byShard.get(shard) ?? [];
    names.push(tensor);
    byShard.set(shard, names);
  }
  const found = new Map<string, RawTensor>();
  await Promise.all(
    [...byShard].map(async ([shard, names]) => {
      const file = joinLocation(source.location, shard);
      const tensors = await parse(await source.readFile(shard), file);
      for (const name of names) {
        const t = tensors.get(name);
        if (!t) throw new ModelFileError(`${file}: missing tensor "${name}", which ${indexName} places in this shard`);
        found.set(name, t);
      }
    }),
  );
  return new Map(Object.keys(map).map((name) => [name, found.get(name)!]));
}

function commonPrefix(a: string, b: string): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}

function commonSuffix(a: string, b: string): number {
  let i = 0;
  while (i < a.length && i < b.length && a[a.length - 1 - i] === b[b.length - 1 - i]) i++;
  return i;
}

/**
 * The weights of one checkpoint, handed out as tfjs tensors by name, with the bookkeeping loaders need: clear
 * errors for missing or mis-shaped weights, and which weights were never used.
 */
export class WeightStore {
  private readonly fetched = new Set<string>();

  /** @param location where the weights came from, for error messages (a folder, URL or file). */
  constructor(
    private readonly raw: Map<string, RawTensor>,
    readonly location: string,
  ) {}

  /** Whether a weight called `name` exists. */
  has(name: string): boolean {
    return this.raw.has(name);
  }

  /** All weight names, in file order. */
  keys(): string[] {
    return [...this.raw.keys()];
  }

  /** The stored form of `name` (dtype, shape, bytes), marked as used; shape checked as in {@link get}. */
  getRaw(name: string, expectedShape?: number[]): RawTensor {
    const t = this.raw.get(name);
    if (!t) throw new Error(this.missingMessage(name));
    if (expectedShape) {
      const ok =
        t.shape.length === expectedShape.length &&
        t.shape.every((d, i) => expectedShape[i] === -1 || expectedShape[i] === d);
      if (!ok) {
        const [have, want] = [t.shape.join(', '), expectedShape.join(', ')];
        throw new Error(`weight "${name}" in ${this.location} has shape [${have}], expected [${want}]`);
      }
    }
    this.fetched.add(name);
    return t;
  }

  /**
   * Weight `name` as a new tfjs tensor (the caller owns and disposes it). `expectedShape` entries of -1 match
   * any size. Missing → error listing up to 3 similar names; wrong shape → error with both shapes.
   */
  get(name: string, expectedShape?: number[]): tf.Tensor {
    return rawToTensor(this.getRaw(name, expectedShape), name);
  }

  /** Names fetched so far through {@link get} / {@link getRaw}. */
  used(): Set<string> {
    return new Set(this.fetched);
  }

  /** Names never fetched, in file order: loaders report these (a wrong checkpoint often shows up here first). */
  unused(): string[] {
    return this.keys().filter((k) => !this.fetched.has(k));
  }

  private missingMessage(name: string): string {
    // Score by shared prefix and suffix, so both "layers.1 vs layers.10" and a missing "model." prefix are found.
    const scored = this.keys()
      .map((k) => ({ k, score: Math.min(commonPrefix(k, name) + commonSuffix(k, name), k.length, name.length) }))
      .filter((x) => x.score > 0)
      .sort((a, b) => b.score - a.score || compareCodePoints(a.k, b.k))
      .slice(0, 3);
    const similar = scored.length ? `; similar: ${scored.map((x) => x.k).join(', ')}` : '';
    return `missing weight "${name}" in ${this.location} (have ${this.raw.size} tensors${similar})`;
  }
}

/** Python's `json.dumps(obj, indent=2, sort_keys=True)` (ensure_ascii) for the plain objects we write. */
function pythonJson(value: unknown): string {
  const sortKeys = (v: unknown): unknown => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return v;
    const entries = Object.entries(v).sort(([a], [b]) => compareCodePoints(a, b));
    return Object.fromEntries(entries.map(([k, x]) => [k, sortKeys(x)]));
  };
  return JSON.stringify(sortKeys(value), null, 2).replace(
    /[\u007f-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/**
 * Split a state dict into safetensors files the way Hugging Face `save_pretrained` does: tensors in insertion
 * order fill a shard until the next one would push it past `maxShardBytes`; a tensor bigger than the limit gets
 * a shard of its own. One shard → `{baseName}.safetensors`; several → `{baseName}-00001-of-0000N.safetensors`
 * plus `{baseName}.safetensors.index.json` (`{metadata: {total_size}, weight_map}`, sorted keys, 2-space indent).
 * Each shard carries `metadata` (default `{format: 'pt'}`, which transformers checks for). Returns name → bytes.
 */
export function shardTensors(
  tensors: Map<string, RawTensor>,
  maxShardBytes: number,
  baseName = 'model',
  metadata: Record<string, string> = { format: 'pt' },
): Map<string, Uint8Array> {
  if (!(maxShardBytes > 0)) throw new RangeError(`maxShardBytes must be positive, got ${maxShardBytes}`);
  const shards: Map<string, RawTensor>[] = [];
  let current = new Map<string, RawTensor>();
  let currentBytes = 0;
  let totalSize = 0;
  for (const [name, t] of tensors) {
    const size = t.data.byteLength;
    totalSize += size;
    if (size > maxShardBytes) {
      shards.push(new Map([[name, t]]));
      continue;
    }
    if (currentBytes + size > maxShardBytes && current.size > 0) {
      shards.push(current);
      current = new Map();
      currentBytes = 0;
    }
    current.set(name, t);
    currentBytes += size;
  }
  if (current.size > 0 || shards.length === 0) shards.push(current);

  const files = new Map<string, Uint8Array>();
  if (shards.length === 1) {
    files.set(`${baseName}.safetensors`, serializeSafetensors(shards[0]!, metadata));
    return files;
  }
  const count = String(shards.length).padStart(5, '0');
  const weightMap: [string, string][] = [];
  shards.forEach((shard, i) => {
    const file = `${baseName}-${String(i + 1).padStart(5, '0')}-of-${count}.safetensors`;
    files.set(file, serializeSafetensors(shard, metadata));
    for (const name of shard.keys()) weightMap.push([name, file]);
  });
  const indexObject = { metadata: { total_size: totalSize }, weight_map: Object.fromEntries(weightMap) };
  const index = pythonJson(indexObject) + '\n';
  files.set(`${baseName}.safetensors.index.json`, new TextEncoder().encode(index));
  return files;
}
