/**
 * The WebGPU device of the decode engine and the bookkeeping around it: every buffer it creates (counted and
 * summed, so "GPU memory held" and "buffers created per token" are measured, not estimated), compute pipelines
 * cached by their WGSL, and explicit bind-group layouts (so a kernel may leave a binding unused).
 *
 * Isomorphic: `navigator.gpu` in a browser, Dawn's in Node (node/webgpu-node.ts installs it).
 */

/** Limits requested at the adapter's maximum: big models need big buffers and bindings. */
const WANTED_LIMITS = [
  'maxBufferSize',
  'maxStorageBufferBindingSize',
  'maxStorageBuffersPerShaderStage',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupsPerDimension',
] as const;

/** What {@link requestLMDevice} got. */
export interface LMDevice {
  device: GPUDevice;
  /** `vendor architecture (description)` of the adapter. */
  adapterInfo: string;
  /** Whether `shader-f16` is enabled (f16 weights are then widened by a bitcast to vec2<f16>). */
  shaderF16: boolean;
  /**
   * A CPU implementation (SwiftShader, or any fallback adapter): workgroup barriers are expensive there, so the
   * matvec kernel runs one output per invocation instead of lanes that add up (kernels/dequant-source.ts).
   */
  cpu: boolean;
}

/**
 * Requests a device with the adapter's highest buffer and binding limits, and `shader-f16` when the adapter
 * has it.
 *
 * @throws Error when there is no WebGPU or no adapter.
 */
export async function requestLMDevice(): Promise<LMDevice> {
  const gpu = (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;
  if (!gpu) throw new Error('WebGPU is not available here (no navigator.gpu)');
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) throw new Error('WebGPU has no adapter (requestAdapter() returned null)');
  const requiredLimits: Record<string, number> = {};
  for (const k of WANTED_LIMITS) requiredLimits[k] = adapter.limits[k];
  const shaderF16 = adapter.features.has('shader-f16');
  const device = await adapter.requestDevice({ requiredLimits, requiredFeatures: shaderF16 ? ['shader-f16'] : [] });
  const i = adapter.info;
  const adapterInfo = `${i.vendor || 'unknown vendor'} ${i.architecture || ''}${i.description ? ` (${i.description})` : ''}`.trim();
  const fallback = (i as { isFallbackAdapter?: boolean }).isFallbackAdapter === true;
  return { device, adapterInfo, shaderF16, cpu: fallback || /swiftshader|llvmpipe|lavapipe/i.test(adapterInfo) };
}

/** A binding of an explicit layout. */
export type BindingKind = 'rw' | 'r' | 'uniform';

const USAGE_STORAGE = 0x0080; // GPUBufferUsage.STORAGE (the globals are not guaranteed before WebGPU loads)
const USAGE_COPY_SRC = 0x0004;
const USAGE_COPY_DST = 0x0008;
const USAGE_UNIFORM = 0x0040;
const USAGE_MAP_READ = 0x0001;

/** Buffer roles, for accounting. */
export type BufferRole = 'weights' | 'kv' | 'activations';

/** Device plus counters and caches. */
export class GpuContext {
  /** `createBuffer` calls made through this context. */
  buffersCreated = 0;
  /** Bytes of live buffers by role. */
  readonly bytes: Record<BufferRole, number> = { weights: 0, kv: 0, activations: 0 };
  private readonly buffers: GPUBuffer[] = [];
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  private readonly layouts = new Map<string, { bind: GPUBindGroupLayout; pipeline: GPUPipelineLayout }>();

  constructor(
    readonly device: GPUDevice,
    readonly shaderF16 = false,
    /** Which matvec shape this device runs best (see {@link LMDevice.cpu}). */
    readonly matvecShape: 'lanes' | 'rows' = 'lanes',
  ) {}

  /** Bytes of every live buffer this context created. */
  get totalBytes(): number {
    return this.bytes.weights + this.bytes.kv + this.bytes.activations;
  }

  private create(label: string, size: number, usage: number, role: BufferRole): GPUBuffer {
    const padded = Math.max(16, Math.ceil(size / 16) * 16);
    const b = this.device.createBuffer({ label, size: padded, usage });
    this.buffersCreated++;
    this.bytes[role] += padded;
    this.buffers.push(b);
    return b;
  }

  /** A storage buffer (copy source and destination too: uploads, and the token copy to the readback buffer). */
  storage(label: string, size: number, role: BufferRole): GPUBuffer {
    return this.create(label, size, USAGE_STORAGE | USAGE_COPY_DST | USAGE_COPY_SRC, role);
  }

  /** A uniform buffer holding `data` (written once now; later writes with `queue.writeBuffer`). */
  uniform(label: string, data: ArrayBuffer): GPUBuffer {
    const b = this.create(label, data.byteLength, USAGE_UNIFORM | USAGE_COPY_DST, 'activations');
    this.device.queue.writeBuffer(b, 0, data);
    return b;
  }

  /** A small buffer the CPU maps to read results back. */
  readback(label: string, size: number): GPUBuffer {
    return this.create(label, size, USAGE_MAP_READ | USAGE_COPY_DST, 'activations');
  }

  /** The explicit layout for a list of binding kinds (cached). */
  layout(kinds: readonly BindingKind[]): { bind: GPUBindGroupLayout; pipeline: GPUPipelineLayout } {
    const key = kinds.join(',');
    let l = this.layouts.get(key);
    if (!l) {
      const bind = this.device.createBindGroupLayout({
        entries: kinds.map((k, binding) => ({
          binding,
          visibility: 4, // GPUShaderStage.COMPUTE
          buffer: { type: k === 'uniform' ? 'uniform' : k === 'rw' ? 'storage' : 'read-only-storage' },
        })),
      });
      l = { bind, pipeline: this.device.createPipelineLayout({ bindGroupLayouts: [bind] }) };
      this.layouts.set(key, l);
    }
    return l;
  }

  /** A compute pipeline for `code` (cached by code and entry point). */
  async pipeline(label: string, code: string, entryPoint: string, kinds: readonly BindingKind[]): Promise<GPUComputePipeline> {
    const key = `${entryPoint}\n${kinds.join(',')}\n${code}`;
    let p = this.pipelines.get(key);
    if (!p) {
      const module = this.device.createShaderModule({ label, code });
      try {
        p = await this.device.createComputePipelineAsync({ label, layout: this.layout(kinds).pipeline, compute: { module, entryPoint } });
      } catch (e) {
        const info = await module.getCompilationInfo();
        const lines = info.messages.map((m) => `${m.type} at line ${m.lineNum}: ${m.message.split('\n')[0]}`).slice(0, 5).join('; ');
        throw new Error(`WGSL kernel ${label} failed to compile: ${lines || (e as Error).message.split('\n')[0]}`);
      }
      this.pipelines.set(key, p);
    }
    return p;
  }

  /** A bind group for `pipelineKinds` over whole buffers, in binding order. */
  bindGroup(label: string, kinds: readonly BindingKind[], buffers: GPUBuffer[]): GPUBindGroup {
    if (buffers.length !== kinds.length) throw new Error(`${label}: ${buffers.length} buffers for ${kinds.length} bindings`);
    return this.device.createBindGroup({
      label,
      layout: this.layout(kinds).bind,
      entries: buffers.map((buffer, binding) => ({ binding, resource: { buffer } })),
    });
  }

  /** Frees every buffer this context created. */
  destroy(): void {
    for (const b of this.buffers) b.destroy();
    this.buffers.length = 0;
    this.bytes.weights = this.bytes.kv = this.bytes.activations = 0;
  }
}

/** GPUBufferUsage bits used outside this file. */
export const BUFFER_USAGE = { STORAGE: USAGE_STORAGE, COPY_SRC: USAGE_COPY_SRC, COPY_DST: USAGE_COPY_DST, MAP_READ: USAGE_MAP_READ };
