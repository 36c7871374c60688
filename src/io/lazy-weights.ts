/**
 * A checkpoint's weights opened without reading them: names, dtypes and shapes come from the safetensors headers
 * (a few KB), and each tensor is read on demand by byte range. This is how big checkpoints load tensor by tensor
 * (peak memory ≈ the model in memory plus one tensor, not plus the whole file), and how a loader can check that a
 * model will fit before it reads anything.
 *
 * Sources without byte ranges, and PyTorch `.bin` files, fall back to reading each file whole (kept until
 * {@link LazyWeights.release}).
 */
import { ModelFileError, joinLocation, readJSON, type ModelSource } from './source.js';
import { parseSafetensors, parseSafetensorsHeader, safetensorsHeaderLength, type DType, type RawTensor } from './safetensors.js';
import { readWeightFiles } from './weights.js';

/** What is known about one tensor before reading it. */
export interface TensorInfo {
  name: string;
  dtype: DType;
  shape: number[];
  /** Bytes as stored. */
  nbytes: number;
}

interface Placed extends TensorInfo {
  file: string;
  /** Absolute byte offset of the data in `file`. */
  offset: number;
}

/** Weights of one checkpoint (single or sharded safetensors, or `.bin`), read one tensor at a time. */
export class LazyWeights {
  private readonly whole = new Map<string, Promise<Map<string, RawTensor>>>();

  private constructor(
    private readonly source: ModelSource,
    private readonly placed: Map<string, Placed>,
    /** Where the weights are, for messages (a file, or an index file). */
    readonly location: string,
    private readonly preloaded: Map<string, RawTensor> | null = null,
  ) {}

  /**
   * Opens `<prefix>.safetensors` or its sharded index (else `.bin`, read whole) and reads only the headers.
   * Throws a `ModelFileError` naming the source when no weights exist.
   */
  static async open(source: ModelSource, prefix = 'model'): Promise<LazyWeights> {
    const single = `${prefix}.safetensors`;
    const index = `${single}.index.json`;
    if (await source.exists(single)) {
      const placed = new Map<string, Placed>();
      await placeFile(source, single, placed, null);
      return new LazyWeights(source, placed, joinLocation(source.location, single));
    }
    if (await source.exists(index)) {
      const where = joinLocation(source.location, index);
      const parsed = await readJSON<{ weight_map?: unknown }>(source, index);
      const map = typeof parsed === 'object' && parsed !== null ? parsed.weight_map : undefined;
      if (typeof map !== 'object' || map === null || Array.isArray(map)) throw new ModelFileError(`${where}: missing "weight_map" object`);
      const byShard = new Map<string, Set<string>>();
      for (const [tensor, shard] of Object.entries(map)) {
        if (typeof shard !== 'string' || shard === '') {
          throw new ModelFileError(`${where}: weight_map["${tensor}"] is ${JSON.stringify(shard)}, not a file name`);
        }
        if (!byShard.has(shard)) byShard.set(shard, new Set());
        byShard.get(shard)!.add(tensor);
      }
      const placed = new Map<string, Placed>();
      for (const [shard, names] of byShard) await placeFile(source, shard, placed, { names, index });
      // Keep the index's order (the order tensors were saved in), as readWeightFiles does.
      const ordered = new Map(Object.keys(map).map((n) => [n, placed.get(n)!]));
      return new LazyWeights(source, ordered, where);
    }
    // PyTorch pickles (and anything else readWeightFiles knows) have no cheap header: read them whole.
    const raw = await readWeightFiles(source, { prefix });
    const placed = new Map<string, Placed>();
    for (const [name, t] of raw) placed.set(name, { name, dtype: t.dtype, shape: t.shape, nbytes: t.data.byteLength, file: '', offset: 0 });
    return new LazyWeights(source, placed, source.location, raw);
  }

  private overrides = new Map<string, RawTensor>();

  /**
   * Serves these tensors instead of the stored ones (a Python full finetune keeps trained LM weights in
   * `non_lora_trainables`); each must exist with the same shape.
   */
  override(tensors: Map<string, RawTensor>, where: string): void {
    for (const [name, t] of tensors) {
      const p = this.placed.get(name);
      if (!p) throw new ModelFileError(`${where}: "${name}" is not a weight of the model in ${this.location}`);
      if (p.shape.join() !== t.shape.join()) throw new ModelFileError(`${where}: "${name}" has shape [${t.shape}], the model has [${p.shape}]`);
      this.overrides.set(name, t);
      this.placed.set(name, { ...p, dtype: t.dtype, nbytes: t.data.byteLength });
    }
  }

  has(name: string): boolean {
    return this.placed.has(name);
  }

  /** All tensor names, in file (or index) order. */
  keys(): string[] {
    return [...this.placed.keys()];
  }

  /** Name, dtype, shape and stored size of `name`, without reading it. */
  info(name: string): TensorInfo {
    const p = this.placed.get(name);
    if (!p) throw new ModelFileError(`missing weight "${name}" in ${this.location} (have ${this.placed.size} tensors)`);
    return { name: p.name, dtype: p.dtype, shape: p.shape, nbytes: p.nbytes };
  }

  /** Reads one tensor. Its `data` is a buffer of its own when the source reads byte ranges. */
  async read(name: string): Promise<RawTensor> {
    const p = this.placed.get(name);
    if (!p) throw new ModelFileError(`missing weight "${name}" in ${this.location} (have ${this.placed.size} tensors)`);
    const o = this.overrides.get(name);
    if (o) return o;
    if (this.preloaded) return this.preloaded.get(name)!;
    if (this.source.readRange) {
      const data = await this.source.readRange(p.file, p.offset, p.offset + p.nbytes);
      return { dtype: p.dtype, shape: p.shape, data };
    }
    if (!this.whole.has(p.file)) {
      const file = p.file;
      this.whole.set(file, this.source.readFile(file).then((b) => parseSafetensors(b, joinLocation(this.source.location, file)).tensors));
    }
    return (await this.whole.get(p.file)!).get(name)!;
  }

  /** Drops files that had to be read whole, and overrides. */
  release(): void {
    this.whole.clear();
    this.overrides.clear();
  }
}

/** Reads one file's header and records where each tensor's data is. */
async function placeFile(
  source: ModelSource,
  file: string,
  placed: Map<string, Placed>,
  shard: { names: Set<string>; index: string } | null,
): Promise<void> {
  const where = joinLocation(source.location, file);
  let entries;
  let headerEnd: number;
  if (source.readRange && source.size) {
    const size = await source.size(file);
    const len = safetensorsHeaderLength(await source.readRange(file, 0, Math.min(8, size)), size, where);
    headerEnd = 8 + len;
    entries = parseSafetensorsHeader(await source.readRange(file, 8, headerEnd), size - headerEnd, where).entries;
  } else {
    const bytes = await source.readFile(file);
    headerEnd = 8 + safetensorsHeaderLength(bytes.subarray(0, 8), bytes.length, where);
    entries = parseSafetensorsHeader(bytes.subarray(8, headerEnd), bytes.length - headerEnd, where).entries;
  }
  const found = new Set<string>();
  for (const e of entries) {
    if (shard && !shard.names.has(e.name)) continue;
    found.add(e.name);
    placed.set(e.name, { name: e.name, dtype: e.dtype, shape: e.shape, nbytes: e.end - e.begin, file, offset: headerEnd + e.begin });
  }
  if (shard) {
    for (const n of shard.names) {
      if (!found.has(n)) throw new ModelFileError(`${where}: missing tensor "${n}", which ${shard.index} places in this shard`);
    }
  }
}
