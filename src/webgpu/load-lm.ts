/**
 * Loads a Llama-family checkpoint (float or QUANT-LAYOUT.md quantized) into the WebGPU decode engine:
 * config.json and the safetensors headers → a plan (refused with numbers when it cannot fit) → buffers →
 * weights streamed in → kernels compiled.
 */
import { readJSON, UrlSource, type ModelSource } from '../io/source.js';
import { parseLlamaConfig } from '../lm/config.js';
import { checkFits, planLM, type LMPlan, type PlanOptions } from './lm-plan.js';
import { readSafetensorsIndex } from './safetensors-index.js';
import { hasRanges, RangeSourceWeightBytes, SourceWeightBytes, UrlWeightBytes, type WeightBytes } from './weight-bytes.js';
import { GpuContext, requestLMDevice, type LMDevice } from './gpu-context.js';
import { uploadWeights, type UploadProgress } from './weight-upload.js';
import { WebGPULM } from './lm-engine.js';

/** Options of {@link loadWebGPULM}. */
export interface LoadWebGPULMOptions extends PlanOptions {
  /** The device to use (default: a new one with the adapter's highest limits). */
  device?: LMDevice;
  /**
   * Where weight bytes come from (default: streamed range requests for a URL source, chunked `readRange` for a
   * source that has it, else the source's files read whole).
   */
  bytes?: WeightBytes;
  /** Refuse models whose GPU memory (weights + KV cache + activations) is above this. */
  budgetBytes?: number;
  /** The matvec kernel's shape (default: `rows` on CPU adapters such as SwiftShader, `lanes` on GPUs). */
  matvecShape?: 'lanes' | 'rows';
  /** Progress: a line per phase, and bytes while weights stream in. */
  onProgress?: (p: { message?: string; upload?: UploadProgress }) => void;
}

/** The plan for a checkpoint (reads config.json and the safetensors headers only). */
export async function planWebGPULM(source: ModelSource, opts: LoadWebGPULMOptions = {}): Promise<{ plan: LMPlan; bytes: WeightBytes }> {
  const bytes =
    opts.bytes ??
    (source instanceof UrlSource ? new UrlWeightBytes(source.location) : hasRanges(source) ? new RangeSourceWeightBytes(source) : new SourceWeightBytes(source));
  const config = parseLlamaConfig(await readJSON<Record<string, unknown>>(source, 'config.json'));
  const entries = await readSafetensorsIndex(source, bytes);
  return { plan: planLM(config, entries, opts), bytes };
}

/**
 * Loads the model at `source` onto the GPU.
 *
 * @throws ModelTooLargeError before reading any weight data when the model cannot fit (a buffer above the
 *   device's limits, the budget exceeded, or the device out of memory), with the sizes and smaller dtypes.
 */
export async function loadWebGPULM(source: ModelSource, opts: LoadWebGPULMOptions = {}): Promise<WebGPULM> {
  const log = (message: string) => opts.onProgress?.({ message });
  const { plan, bytes } = await planWebGPULM(source, opts);
  const dev = opts.device ?? (await requestLMDevice());
  const limits = dev.device.limits;
  checkFits(plan, { maxBufferSize: limits.maxBufferSize, maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize, budgetBytes: opts.budgetBytes });
  const ctx = new GpuContext(dev.device, dev.shaderF16, opts.matvecShape ?? (dev.cpu ? 'rows' : 'lanes'));
  try {
    log(`streaming weights into GPU buffers (${dev.adapterInfo}${dev.cpu ? ', a CPU implementation' : ''})`);
    const weights = await uploadWeights(ctx, plan, bytes, (upload) => opts.onProgress?.({ upload }));
    log('compiling the WebGPU kernels');
    const lm = await WebGPULM.create(ctx, plan, weights);
    lm.ownsDevice = !opts.device;
    return lm;
  } catch (e) {
    ctx.destroy();
    if (!opts.device) dev.device.destroy();
    throw e;
  }
}
