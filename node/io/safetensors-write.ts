/**
 * Writing safetensors files whose tensors are produced one at a time (quantizing, or generating a real-size
 * random model), so the whole checkpoint never sits in memory. Byte-identical to `serializeSafetensors` for the
 * same tensors (same header layout: `safetensorsLayout`), and sharded like Hugging Face `save_pretrained`.
 */
import { open } from 'node:fs/promises';
import { bytesPerElement, shapeSize, type TensorSpec } from '../../src/io/safetensors.js';
import { safetensorsLayout } from '../../src/io/safetensors-header.js';
import type { FileWriter } from '../atomic-write.js';

/** A tensor declared up front (for the header) whose bytes are made when the writer reaches it. */
export interface StreamedTensor extends TensorSpec {
  produce(): Promise<Uint8Array> | Uint8Array;
}

/** Stored size of a declared tensor. */
export function specBytes(t: TensorSpec): number {
  return shapeSize(t.shape) * bytesPerElement(t.dtype);
}

/**
 * A {@link FileWriter} for one safetensors file: header first, then each tensor's bytes in layout order, each
 * checked against its declared size; fsynced before it returns.
 */
export function safetensorsFileWriter(tensors: StreamedTensor[], metadata: Record<string, string> = { format: 'pt' }): FileWriter {
  return async (file) => {
    const layout = safetensorsLayout(tensors, metadata);
    const byName = new Map(tensors.map((t) => [t.name, t]));
    const fh = await open(file, 'wx');
    try {
      await fh.write(layout.header, 0, layout.header.length, 0);
      let at = layout.header.length;
      for (const e of layout.entries) {
        const bytes = await byName.get(e.name)!.produce();
        if (bytes.byteLength !== e.end - e.begin) {
          throw new Error(`${file}: tensor "${e.name}" produced ${bytes.byteLength} bytes, its ${e.dtype} [${e.shape}] needs ${e.end - e.begin}`);
        }
        let done = 0;
        while (done < bytes.byteLength) {
          const { bytesWritten } = await fh.write(bytes, done, Math.min(bytes.byteLength - done, 1 << 30), at + done);
          done += bytesWritten;
        }
        at += bytes.byteLength;
      }
      await fh.sync();
    } finally {
      await fh.close();
    }
  };
}

/**
 * Splits tensors (in order) into shards of at most `maxShardBytes` the way `shardTensors` does, and returns the
 * files to write: `{base}.safetensors` alone, or `{base}-0000i-of-0000N.safetensors` plus the index JSON.
 */
export function shardedSafetensorsFiles(
  tensors: StreamedTensor[],
  maxShardBytes: number,
  base = 'model',
): Map<string, FileWriter | string> {
  if (!(maxShardBytes > 0)) throw new RangeError(`maxShardBytes must be positive, got ${maxShardBytes}`);
  const shards: StreamedTensor[][] = [];
  let current: StreamedTensor[] = [];
  let bytes = 0;
  let total = 0;
  for (const t of tensors) {
    const size = specBytes(t);
    total += size;
    if (size > maxShardBytes) {
      shards.push([t]);
      continue;
    }
    if (bytes + size > maxShardBytes && current.length > 0) {
      shards.push(current);
      current = [];
      bytes = 0;
    }
    current.push(t);
    bytes += size;
  }
  if (current.length > 0 || shards.length === 0) shards.push(current);
  const files = new Map<string, FileWriter | string>();
  if (shards.length === 1) {
    files.set(`${base}.safetensors`, safetensorsFileWriter(shards[0]!));
    return files;
  }
  const count = String(shards.length).padStart(5, '0');
  const weightMap: Record<string, string> = {};
  shards.forEach((shard, i) => {
    const name = `${base}-${String(i + 1).padStart(5, '0')}-of-${count}.safetensors`;
    files.set(name, safetensorsFileWriter(shard));
    for (const t of shard) weightMap[t.name] = name;
  });
  const sorted = Object.fromEntries(Object.entries(weightMap).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  files.set(`${base}.safetensors.index.json`, JSON.stringify({ metadata: { total_size: total }, weight_map: sorted }, null, 2) + '\n');
  return files;
}
