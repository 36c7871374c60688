/**
 * Where every tensor of a checkpoint lies, from the safetensors headers alone (two small range reads per file),
 * so a loader can plan GPU memory and refuse a model that will not fit before it reads any weight data.
 * Single files and sharded ones (`model.safetensors.index.json`) alike.
 */
import { parseSafetensorsHeader, safetensorsHeaderLength, type DType } from '../io/safetensors.js';
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

/**
 * Reads and validates the header of one safetensors file (real-node's header parser: every offset, size and
 * the tiling of the data area checked, errors naming the file and tensor).
 */
export async function readSafetensorsHeader(bytes: WeightBytes, file: string): Promise<TensorEntry[]> {
  const where = joinLocation(bytes.location, file);
  const size = await bytes.size(file);
  const n = safetensorsHeaderLength(await bytes.readRange(file, 0, Math.min(8, size)), size, where);
  const { entries } = parseSafetensorsHeader(await bytes.readRange(file, 8, 8 + n), size - 8 - n, where);
  const dataStart = 8 + n;
  return entries
    .map((e) => ({ name: e.name, dtype: e.dtype, shape: e.shape, file, start: dataStart + e.begin, end: dataStart + e.end }))
    .sort((a, b) => a.start - b.start);
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
