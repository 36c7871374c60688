/**
 * `multi-token quantize`: a float checkpoint folder → a folder in the MatMulNBits safetensors layout
 * (docs/quantization.md). Weights stream through one tensor at a time (read by byte range, quantized, written),
 * so a model much bigger than free memory can be converted; everything else in the folder (tokenizer, projector
 * weights, encoder subfolders, adapters) is copied unchanged.
 */
import { copyFile, mkdir, readdir, stat } from 'node:fs/promises';
import * as path from 'node:path';
import { FolderSource } from '../folder-source.js';
import { LazyWeights } from '../../src/io/lazy-weights.js';
import { readJSON } from '../../src/io/source.js';
import { rawToFloat32, type DType } from '../../src/io/safetensors.js';
import { blobSize, blockCount, checkNBitsShape, packCodes, packZeros, quantizationParams, zeroRowBytes, type NBitsShape, type QuantBits } from '../../src/quant/nbits.js';
import { isQuantizedModule, quantizationConfigJSON, type QuantizationConfig } from '../../src/quant/config.js';
import { writeDirAtomic, type FileWriter } from '../atomic-write.js';
import { shardedSafetensorsFiles, specBytes, type StreamedTensor } from '../io/safetensors-write.js';
import { ProgressBar } from '../progress-bar.js';

export interface QuantizeOptions {
  model: string;
  out: string;
  bits: QuantBits;
  groupSize?: number;
  /** Symmetric (no stored zero points). Default false: asymmetric is more accurate for round-to-nearest. */
  sym?: boolean;
  /** Also quantize `lm_head` (for tied embeddings, a quantized copy of the table; the table stays float). */
  lmHead?: boolean;
  /** Largest shard in bytes (default 2 GB, as Hugging Face's `max_shard_size="2GB"`). */
  maxShardBytes?: number;
  progress?: boolean;
}

export interface QuantizeResult {
  quantized: number;
  kept: number;
  bytesIn: number;
  bytesOut: number;
}

const WEIGHT_FILE = /^(model(-\d{5}-of-\d{5})?\.safetensors(\.index\.json)?|pytorch_model(-\d{5}-of-\d{5})?\.bin(\.index\.json)?)$/;

/** Quantizes `opts.model` into `opts.out` (written atomically). */
export async function quantizeFolder(opts: QuantizeOptions): Promise<QuantizeResult> {
  const groupSize = opts.groupSize ?? 32;
  const src = new FolderSource(opts.model);
  const config = await readJSON<Record<string, unknown>>(src, 'config.json');
  if (config.quantization_config) {
    throw new Error(`${src.location} is already quantized (config.json has quantization_config); quantize its float original instead`);
  }
  const weights = await LazyWeights.open(src);
  const q: QuantizationConfig = {
    quantMethod: 'matmul_nbits',
    bits: opts.bits,
    groupSize,
    sym: opts.sym ?? false,
    modulesNotToConvert: opts.lmHead ? [] : ['lm_head'],
  };
  checkNBitsShape({ n: 1, k: 1, bits: q.bits, groupSize }, '--bits/--group_size');

  const tensors: StreamedTensor[] = [];
  const params = new Map<string, Promise<{ scales: Uint16Array; zeros: Uint8Array }>>();
  let quantized = 0;
  let kept = 0;
  let done = 0;
  const readFloat = async (name: string) => rawToFloat32(await weights.read(name));
  const tied = config.tie_word_embeddings === true && !weights.has('lm_head.weight') && weights.has('model.embed_tokens.weight');
  const moduleOf = (name: string) => {
    const module = name.endsWith('.weight') ? name.slice(0, -'.weight'.length) : '';
    return module && weights.info(name).shape.length === 2 && isQuantizedModule(module, { lmHead: opts.lmHead }) ? module : null;
  };
  const total = weights.keys().filter(moduleOf).length + (opts.lmHead && tied ? 1 : 0);
  const bar = new ProgressBar(`quantize int${q.bits}`, total, 'matrices', opts.progress ?? !!process.stderr.isTTY);

  const addQuantized = (module: string, source: string) => {
    const [n, k] = weights.info(source).shape as [number, number];
    const shape: NBitsShape = { n, k, bits: q.bits, groupSize };
    const paramsOf = () => {
      if (!params.has(module)) params.set(module, readFloat(source).then((w) => quantizationParams(w, shape, q.sym, source)));
      return params.get(module)!;
    };
    const nb = blockCount(shape);
    const u8 = (b: Uint16Array) => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
    tensors.push({
      name: `${module}.qweight`, dtype: 'U8', shape: [n, nb, blobSize(shape)],
      produce: async () => {
        const p = await paramsOf();
        const out = packCodes(await readFloat(source), shape, p.scales, p.zeros);
        bar.update(++done);
        return out;
      },
    });
    tensors.push({ name: `${module}.scales`, dtype: 'F16', shape: [n, nb], produce: async () => u8((await paramsOf()).scales) });
    if (!q.sym) {
      tensors.push({ name: `${module}.qzeros`, dtype: 'U8', shape: [n, zeroRowBytes(shape)], produce: async () => packZeros((await paramsOf()).zeros, shape) });
    }
    quantized++;
  };

  for (const name of weights.keys()) {
    const info = weights.info(name);
    const module = moduleOf(name);
    if (module) {
      addQuantized(module, name);
    } else {
      tensors.push({ name, dtype: info.dtype as DType, shape: info.shape, produce: async () => (await weights.read(name)).data });
      kept++;
    }
  }
  if (opts.lmHead && tied) addQuantized('lm_head', 'model.embed_tokens.weight');

  const files = new Map<string, Uint8Array | string | FileWriter>(
    shardedSafetensorsFiles(tensors, opts.maxShardBytes ?? 2e9),
  );
  files.set('config.json', JSON.stringify({ ...config, quantization_config: quantizationConfigJSON(q) }, null, 2) + '\n');
  for (const rel of await listFiles(src.location)) {
    if (rel === 'config.json' || WEIGHT_FILE.test(rel)) continue;
    const from = path.join(src.location, ...rel.split('/'));
    files.set(rel, async (to) => {
      await mkdir(path.dirname(to), { recursive: true });
      await copyFile(from, to);
    });
  }
  try {
    await writeDirAtomic(opts.out, files);
  } finally {
    bar.stop();
  }
  const bytesIn = weights.keys().reduce((s, n) => s + weights.info(n).nbytes, 0);
  const bytesOut = tensors.reduce((s, t) => s + specBytes(t), 0);
  return { quantized, kept, bytesIn, bytesOut };
}

/** Every file under `root` as a '/'-separated relative path (symlinks followed, as in a HF cache snapshot). */
async function listFiles(root: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(path.join(root, rel))) {
    const r = rel ? `${rel}/${entry}` : entry;
    const s = await stat(path.join(root, r));
    if (s.isDirectory()) out.push(...(await listFiles(root, r)));
    else if (s.isFile()) out.push(r);
  }
  return out;
}
