/**
 * `--feature_cache DIR`: frozen-encoder features stored one safetensors file per row (named by a hash of the
 * cache key), so later epochs and later runs on the same data skip image/audio decoding and the encoders.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { parseSafetensors, serializeSafetensors, type RawTensor } from '../../src/io/safetensors.js';
import type { FeatureStore } from '../../src/train/feature-cache.js';
import { writeFileAtomic } from '../atomic-write.js';

export class DiskFeatureStore implements FeatureStore {
  constructor(readonly dir: string) {}

  private file(key: string): string {
    const h = createHash('sha256').update(key).digest('hex');
    return path.join(this.dir, h.slice(0, 2), `${h}.safetensors`);
  }

  async get(key: string): Promise<Map<string, RawTensor> | null> {
    try {
      const f = this.file(key);
      const bytes = new Uint8Array(await readFile(f));
      const { tensors, metadata } = parseSafetensors(bytes, f);
      return metadata.key === key ? tensors : null;
    } catch {
      return null;
    }
  }

  async put(key: string, tensors: Map<string, RawTensor>): Promise<void> {
    const f = this.file(key);
    await mkdir(path.dirname(f), { recursive: true });
    await writeFileAtomic(f, serializeSafetensors(tensors, { key }));
  }
}
