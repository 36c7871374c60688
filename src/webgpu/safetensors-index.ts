/**
 * Where every tensor of a checkpoint lies, from the safetensors headers alone (two small range reads per file),
 * so a loader can plan GPU memory and refuse a model that will not fit before it reads any weight data.
 * Single files and sharded ones (`model.safetensors.index.json`) alike.
 */
import { bytesPerElement, isDType, shapeSize, type DType } from '../io/safetensors.js';
import { ModelFileError, joinLocation, readJSON, type ModelSource } from '../io/source.js';
import type { WeightBytes } from './weight-bytes.js';

/** One tensor's place: its file and absolute byte range there. */
export interface TensorEntry {
  name: string;
  dtype: DType;
  shape: number[];
  file: string;
  /** Absolute offsets in `file` (header included): the data is `[start, end)`. */
  start: number;
  end: number;
}

const MAX_HEADER_BYTES = 100_000_000;

/** Reads and validates the header of one safetensors file. */
export async function readSafetensorsHeader(bytes: WeightBytes, file: string): Promise<TensorEntry[]> {
  const where = joinLocation(bytes.location, file);
  const fail = (msg: string) => new ModelFileError(`${where}: ${msg}`);
  const head = await bytes.readRange(file, 0, 8);
  const n = Number(new DataView(head.buffer, head.byteOffset, 8).getBigUint64(0, true));
  if (!(n > 1 && n <= MAX_HEADER_BYTES)) throw fail(`header length ${n} is not plausible (not safetensors, or truncated?)`);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(await bytes.readRange(file, 8, 8 + n)));
  } catch (e) {
    throw fail(`header is not valid UTF-8 JSON: ${(e as Error).message}`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw fail('header is not a JSON object');
  const dataStart = 8 + n;
  const entries: TensorEntry[] = [];
  for (const [name, info] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') continue;
    const e = info as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const t = `tensor "${name}"`;
    if (!isDType(e?.dtype)) throw fail(`${t}: unknown dtype ${JSON.stringify(e?.dtype)}`);
    const shape = e.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw fail(`${t}: bad shape ${JSON.stringify(shape)}`);
    const off = e.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !off.every((d) => Number.isSafeInteger(d) && d >= 0) || off[0] > off[1]) {
      throw fail(`${t}: data_offsets ${JSON.stringify(off)} is not [begin, end]`);
    }
    const need = shapeSize(shape as number[]) * bytesPerElement(e.dtype);
    if (off[1] - off[0] !== need) throw fail(`${t}: data_offsets [${off[0]}, ${off[1]}] hold ${off[1] - off[0]} bytes, ${e.dtype} [${shape.join(', ')}] needs ${need}`);
    entries.push({ name, dtype: e.dtype, shape: shape as number[], file, start: dataStart + off[0], end: dataStart + off[1] });
  }
  entries.sort((a, b) => a.start - b.start);
  for (let i = 1; i < entries.length; i++) {
    if (entries[i].start < entries[i - 1].end) throw fail(`tensor "${entries[i].name}" overlaps "${entries[i - 1].name}"`);
  }
  return entries;
}

/**
 * Every tensor of `<prefix>.safetensors`, or of the shards `<prefix>.safetensors.index.json` names. Throws a
 * `ModelFileError` naming the location when neither exists, or when the index names a tensor its shard lacks.
 */
export async function readSafetensorsIndex(source: ModelSource, bytes: WeightBytes, prefix = 'model'): Promise<Map<string, TensorEntry>> {
  const single = `${prefix}.safetensors`;
  const indexName = `${single}.index.json`;
  const out = new Map<string, TensorEntry>();
  if (await source.exists(single)) {
    for (const e of await readSafetensorsHeader(bytes, single)) out.set(e.name, e);
    return out;
  }
  if (!(await source.exists(indexName))) {
    throw new ModelFileError(`no weights in ${source.location}: looked for ${single} and ${indexName} (streamed loading reads safetensors only)`);
  }
  const index = await readJSON<{ weight_map?: Record<string, unknown> }>(source, indexName);
  const map = index?.weight_map;
  if (typeof map !== 'object' || map === null) throw new ModelFileError(`${joinLocation(source.location, indexName)}: missing "weight_map"`);
  const shards = [...new Set(Object.values(map))];
  for (const shard of shards) {
    if (typeof shard !== 'string' || !shard) throw new ModelFileError(`${joinLocation(source.location, indexName)}: a weight_map entry is not a file name`);
    for (const e of await readSafetensorsHeader(bytes, shard)) out.set(e.name, e);
  }
  for (const [name, shard] of Object.entries(map)) {
    if (out.get(name)?.file !== shard) throw new ModelFileError(`${joinLocation(source.location, String(shard))}: missing tensor "${name}", which ${indexName} places there`);
  }
  return out;
}
