/**
 * The page's route to the WebGPU engine (src/webgpu/): a quantized checkpoint (config.json with
 * `quantization_config`, QUANT-LAYOUT.md) always takes it; a float one does with `?engine=webgpu` (held as
 * stored, or as 16-bit with `?dtype=f16|bf16`). Its weights stream from their files into GPU buffers; the
 * tokenizer, encoders and projectors load as usual.
 */
import { readJSON, type ModelSource } from '../../src/io/source.js';
import { loadGpuLMM, type GpuLMM } from '../../src/webgpu/gpu-lmm.js';
import { formatGpuBytes, type HoldDType } from '../../src/webgpu/lm-plan.js';
import type { WeightBytes } from '../../src/webgpu/weight-bytes.js';
import { cachedWeightBytes, folderWeightBytes, urlWeightBytes } from './gpu-weights.js';
import type { LoadProgress, ModelChoice } from './model-loader.js';

/** How the page picks the engine, from its query parameters. */
export interface GpuLoadOptions {
  /** `auto`: the WebGPU engine for quantized checkpoints, tfjs otherwise. */
  engine: 'auto' | 'webgpu' | 'tfjs';
  dtype: HoldDType;
  /** KV-cache length (prompt + answer); default min(max_position_embeddings, 2048). */
  maxSeq?: number;
}

/** Reads `?engine=`, `?dtype=`, `?maxSeq=`. */
export function gpuOptionsFrom(params: URLSearchParams): GpuLoadOptions {
  const engine = params.get('engine');
  const dtype = params.get('dtype');
  const maxSeq = Number(params.get('maxSeq'));
  return {
    engine: engine === 'webgpu' || engine === 'tfjs' ? engine : 'auto',
    dtype: dtype === 'f16' || dtype === 'bf16' ? dtype : 'auto',
    maxSeq: maxSeq > 0 ? maxSeq : undefined,
  };
}

/** What the loader hands over: where the small files come from, the cache key, whether to cache. */
export interface GpuLoadContext {
  choice: ModelChoice;
  /** Small files (config, tokenizer, projectors), through the page's cache and progress log. */
  reading: ModelSource;
  /** The model's base URL for a URL choice. */
  baseUrl: string | null;
  cacheKey: string;
  caching: boolean;
  report: (p: LoadProgress) => void;
}

function weightBytes(c: GpuLoadContext): WeightBytes {
  const key = c.caching ? c.cacheKey : null;
  if (c.choice.kind === 'url') return urlWeightBytes(c.baseUrl!, key, c.report);
  if (c.choice.kind === 'folder') return folderWeightBytes(c.choice.source, key);
  return cachedWeightBytes(c.choice.location, c.cacheKey);
}

/**
 * Loads the model on the WebGPU engine when the options and its config.json say so; null means "use tfjs".
 *
 * @throws Error when the model needs the engine and the browser has no WebGPU, or when it cannot fit (with
 *   the sizes and a smaller dtype to try).
 */
export async function maybeLoadGpuLMM(c: GpuLoadContext, opts: GpuLoadOptions): Promise<GpuLMM | null> {
  if (opts.engine === 'tfjs') return null;
  const config = await readJSON<Record<string, unknown>>(c.reading, 'config.json');
  const quantized = config.quantization_config !== undefined && config.quantization_config !== null;
  if (!quantized && opts.engine !== 'webgpu') return null;
  if (!(globalThis as { navigator?: { gpu?: unknown } }).navigator?.gpu) {
    throw new Error(
      quantized
        ? 'this checkpoint is quantized (quantization_config) and runs on the WebGPU engine, but this browser has no WebGPU (Chrome and Edge 113+, Safari 26+ have it); load a float checkpoint instead'
        : '?engine=webgpu needs WebGPU, which this browser does not have',
    );
  }
  let last = 0;
  const lmm = await loadGpuLMM(c.reading, {
    bytes: weightBytes(c),
    dtype: opts.dtype,
    maxSeq: opts.maxSeq,
    onProgress: (p) => {
      if (p.message) c.report({ message: p.message });
      if (p.upload) {
        c.report({ file: { name: `${p.upload.file} → GPU`, loaded: p.upload.loaded, total: p.upload.total } });
        if (p.upload.loaded === p.upload.total || p.upload.loaded - last > 64e6) {
          last = p.upload.loaded;
          c.report({ message: `weights on the GPU: ${formatGpuBytes(p.upload.loaded)} of ${formatGpuBytes(p.upload.total)}` });
        }
      }
    },
  });
  const m = lmm.lm.memory;
  c.report({ message: `GPU memory held: ${formatGpuBytes(m.total)} (weights ${formatGpuBytes(m.weights)}, KV cache ${formatGpuBytes(m.kv)}, work ${formatGpuBytes(m.activations)})` });
  return lmm;
}
