/**
 * Frozen Linear weights held packed on the GPU for the tfjs path on WebGPU (the placer of src/nn/frozen-weight.ts,
 * as node/ort/ is for Node): int4/int8 in the MatMulNBits layout, f16/bf16 two to a word, multiplied by the WGSL
 * dequant kernels without a float copy. `loadLMM(…, { dtype })` on the webgpu backend, quantized checkpoints
 * included, then keeps them packed instead of widening them to float32 at load; LoRA/QLoRA trains through them
 * (`dy · W` widens W for the one product, kernels/dequantize.ts).
 */
import { tf, type Tensor } from '../src/tf.js';
import type { FrozenWeight, FrozenWeightPlacer, WeightDType } from '../src/nn/frozen-weight.js';
import { weightShape, weightToF16, weightToNBits } from '../src/quant/weight-convert.js';
import { float32ToHalfBytes } from '../src/io/half-float.js';
import { rawToFloat32 } from '../src/io/safetensors.js';
import { dequantMatMul, disposePacked, packedToTensors, type PackedTensors } from './dequant-matmul.js';
import { dequantizeOnDevice } from './dequantize.js';
import { dequantize, packFloat, packNBits, packedBytes, packedLayout, type PackedWords } from './packed-weight.js';

class WebGPUFrozenWeight implements FrozenWeight {
  readonly outFeatures: number;
  readonly inFeatures: number;
  readonly byteLength: number;
  constructor(
    private readonly packed: PackedTensors,
    readonly dtype: WeightDType,
    /** The packed words on the CPU, kept only for training (toFloat32: WebGPU cannot read back synchronously). */
    private readonly cpu: PackedWords | null,
  ) {
    this.outFeatures = packed.layout.N;
    this.inFeatures = packed.layout.K;
    this.byteLength = packedBytes(packed.layout);
  }
  matmul(x2: Tensor): Tensor {
    return dequantMatMul(x2 as tf.Tensor2D, this.packed);
  }
  matmulTransposed(dy: Tensor): Tensor {
    return tf.tidy(() => tf.matMul(dy as tf.Tensor2D, dequantizeOnDevice(this.packed)));
  }
  toFloat32(): Float32Array {
    if (!this.cpu) {
      throw new Error(`this ${this.dtype} weight is held packed on the GPU only (WebGPU cannot read it back synchronously); load with gradients (training) to keep a CPU copy`);
    }
    return dequantize(this.cpu);
  }
  dispose(): void {
    disposePacked(this.packed);
  }
}

/**
 * The placer: on the webgpu backend, int4/int8/f16/bf16 weights become packed GPU weights; f32 weights (and any
 * weight on another backend) stay ordinary tfjs tensors (null).
 */
export const webgpuFrozenWeightPlacer: FrozenWeightPlacer = (name, src, dtype, opts) => {
  if (tf.getBackend() !== 'webgpu' || dtype === 'f32') return null;
  if (dtype === 'int4' || dtype === 'int8') {
    const m = weightToNBits(src, dtype === 'int4' ? 4 : 8, opts.groupSize ?? 32, name);
    const words = packNBits(m, name);
    return new WebGPUFrozenWeight(packedToTensors(words), dtype, opts.gradients ? words : null);
  }
  const [n, k] = weightShape(src);
  let bits: Uint16Array;
  if (dtype === 'bf16' && src.kind === 'float' && src.raw.dtype !== 'F16') {
    const h = float32ToHalfBytes(rawToFloat32(src.raw), 'BF16');
    bits = new Uint16Array(h.buffer, h.byteOffset, n * k);
  } else {
    bits = weightToF16(src, name);
  }
  const format = dtype === 'bf16' && !(src.kind === 'float' && src.raw.dtype === 'F16') ? 'bf16' : 'f16';
  const words = packFloat(packedLayout(format, n, k, { name }), bits);
  return new WebGPUFrozenWeight(packedToTensors(words), dtype, opts.gradients ? words : null);
};
