/**
 * Weight bytes from a local folder for the WebGPU engine's streamed loading (src/webgpu/weight-bytes.ts): reads
 * at offsets with a file handle, in chunks, so a multi-gigabyte safetensors never sits in memory whole.
 */
import { open, stat } from 'node:fs/promises';
import { ModelFileError } from '../src/io/source.js';
import type { WeightBytes } from '../src/webgpu/weight-bytes.js';
import { FolderSource } from './folder-source.js';

export class FileWeightBytes implements WeightBytes {
  private readonly folder: FolderSource;
  constructor(root: string, private readonly chunkBytes = 8 << 20) {
    this.folder = new FolderSource(root);
  }

  get location(): string {
    return this.folder.location;
  }

  async size(name: string): Promise<number> {
    return (await stat(this.folder.resolve(name))).size;
  }

  async readRange(name: string, start: number, end: number): Promise<Uint8Array> {
    const chunks: Uint8Array[] = [];
    for await (const c of this.stream(name, start, end)) chunks.push(c);
    if (chunks.length === 1) return chunks[0];
    const out = new Uint8Array(end - start);
    let at = 0;
    for (const c of chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }

  async *stream(name: string, start: number, end: number): AsyncIterable<Uint8Array> {
    const path = this.folder.resolve(name);
    const fh = await open(path, 'r').catch((e: Error) => {
      throw new ModelFileError(`could not open ${path}: ${e.message}`);
    });
    try {
      for (let at = start; at < end; ) {
        const buf = new Uint8Array(Math.min(this.chunkBytes, end - at));
        const { bytesRead } = await fh.read(buf, 0, buf.length, at);
        if (bytesRead === 0) throw new ModelFileError(`${path} ended at byte ${at}, before ${end}`);
        at += bytesRead;
        yield bytesRead === buf.length ? buf : buf.subarray(0, bytesRead);
      }
    } finally {
      await fh.close();
    }
  }
}
