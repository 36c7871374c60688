/**
 * A packed weight widened to float32 `[N, K]` on the GPU, as a tfjs-webgpu kernel (`MultiTokenDequantize`): what
 * the backward product `dy · W` of a frozen packed layer needs (LoRA training through a quantized base). The
 * float copy lives only as long as the caller keeps the returned tensor.
 */
import type { WebGPUBackend, WebGPUProgram } from '@tensorflow/tfjs-backend-webgpu';
import { tf, type Tensor2D } from '../src/tf.js';
import { DEQUANT_UNIFORM_FIELDS, DEQUANT_WG_SIZE, dequantizeSource } from './dequant-source.js';
import type { PackedFormat, PackedLayout } from './packed-weight.js';
import { dequantizeTensors, type PackedTensors } from './dequant-matmul.js';

export const DEQUANTIZE_KERNEL = 'MultiTokenDequantize';

const hooks = `
fn unpackHalf2(v : u32) -> vec2<f32> {
  return unpack2x16float(v);
}
fn storeOut(i : i32, v : f32) {
  result[i] = v;
}
`;

class DequantizeProgram implements WebGPUProgram {
  readonly variableNames = ['w', 'scales', 'zeros'];
  readonly outputShape: number[];
  shaderKey: string;
  readonly dispatchLayout = { x: [0, 1] };
  dispatch: [number, number, number];
  readonly workgroupSize: [number, number, number] = [DEQUANT_WG_SIZE, 1, 1];
  readonly uniforms = DEQUANT_UNIFORM_FIELDS.map(([n, t]) => `${n} : ${t},`).join(' ');

  constructor(private readonly format: PackedFormat, N: number, K: number) {
    this.outputShape = [N, K];
    this.dispatch = [Math.ceil((N * Math.ceil(K / 4)) / DEQUANT_WG_SIZE), 1, 1];
    this.shaderKey = `multiTokenDequantize_${format}`;
  }
  getUserCode(): string {
    return hooks + dequantizeSource(this.format);
  }
}

type Attrs = Omit<PackedLayout, 'hasZeros'> & { hasZeros: number };

const kernelFunc: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const { w, scales, zeros } = inputs as Record<'w' | 'scales' | 'zeros', tf.TensorInfo>;
  const a = attrs as unknown as Attrs;
  const u = [1, a.N, a.K, a.groupSize, a.nBlocks, a.rowWords, a.zeroRowBytes, a.hasZeros, 0];
  return (backend as WebGPUBackend).runWebGPUProgram(new DequantizeProgram(a.format, a.N, a.K), [w, scales, zeros], 'float32', [
    ...u.map((v) => ({ type: 'int32', data: [v] })),
    { type: 'float32', data: [0] },
  ]);
};

/** The webgpu kernel config, for `tf.registerKernel`. */
export const dequantizeKernelConfig: tf.KernelConfig = { kernelName: DEQUANTIZE_KERNEL, backendName: 'webgpu', kernelFunc };

/** W `[N, K]` as float32: one kernel on webgpu, a CPU dequantization elsewhere. */
export function dequantizeOnDevice(p: PackedTensors): Tensor2D {
  if (tf.getBackend() !== 'webgpu') return dequantizeTensors(p);
  const attrs: Attrs = { ...p.layout, hasZeros: p.layout.hasZeros ? 1 : 0 };
  return tf.engine().runKernel(DEQUANTIZE_KERNEL, { w: p.words, scales: p.scales, zeros: p.zeros }, attrs as unknown as tf.NamedAttrMap) as Tensor2D;
}
