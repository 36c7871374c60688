/**
 * Frozen Linear weights held outside tfjs memory and multiplied by onnxruntime (see src/nn/frozen-weight.ts):
 *
 * - f32 / f16 (bf16 is held as f16): a JS typed array passed to the shared `FusedMatMul` session on each call
 *   (measured within 5% of a session initializer); f16 is widened inside the graph.
 * - int8 / int4: one `MatMulNBits` session per weight with the codes as initializers, so MLAS prepacks them once
 *   (as a runtime input the kernel was 30–100× slower here). The JS copy of the codes is dropped after packing
 *   unless gradients must flow through the layer; then `dy · W` dequantizes into a shared scratch buffer and
 *   runs as an f32 matmul (QLoRA does the same on GPUs).
 *
 * The products run as a tfjs kernel (`MultiTokenFrozenMatMul`) so they read and write tfjs memory in place.
 */
import { tf, type Tensor } from '../../src/tf.js';
import type { FrozenWeight, PlaceOptions, WeightDType, WeightSource } from '../../src/nn/frozen-weight.js';
import { f16BitsToNumber } from '../../src/io/half-float.js';
import { dequantizeRows, type NBitsMatrix } from '../../src/quant/nbits.js';
import { weightShape, weightToF16, weightToFloat32, weightToNBits } from '../../src/quant/weight-convert.js';
import { OrtSession, ortTensor } from './binding.js';
import { matMulNBitsGraph } from './graphs.js';
import { matMulSession } from './matmul-kernels.js';
import { kernelMemory } from './tensor-access.js';

const KERNEL = 'MultiTokenFrozenMatMul';
const GATHER_KERNEL = 'MultiTokenFrozenGather';
const registry = new Map<number, OrtFrozenWeight>();
let nextId = 1;

/** `accuracy_level` for MatMulNBits: 4 = int8 activations inside the kernel (fastest); `MULTI_TOKEN_ORT_ACCURACY_LEVEL` overrides. */
function accuracyLevel(): number {
  const raw = process.env.MULTI_TOKEN_ORT_ACCURACY_LEVEL;
  return raw && ['0', '1', '2', '3', '4'].includes(raw.trim()) ? Number(raw) : 4;
}

let scratch = new Float32Array(0);
function scratchOf(n: number): Float32Array {
  if (scratch.length < n) scratch = new Float32Array(n);
  return scratch.subarray(0, n);
}

/** One weight and how ORT multiplies by it. */
abstract class OrtFrozenWeight implements FrozenWeight {
  readonly id = nextId++;
  constructor(
    readonly name: string,
    readonly outFeatures: number,
    readonly inFeatures: number,
    readonly dtype: WeightDType,
  ) {
    registry.set(this.id, this);
  }
  abstract readonly byteLength: number;
  /** Writes `x · Wᵀ` (or `x · W` when `transposed`) into `y`. */
  abstract run(x: Float32Array, rows: number, y: Float32Array, transposed: boolean): void;
  abstract toFloat32(): Float32Array;

  matmul(x2: Tensor): Tensor {
    return this.call(x2, false);
  }
  matmulTransposed(dy: Tensor): Tensor {
    return this.call(dy, true);
  }
  private call(x: Tensor, transposed: boolean): Tensor {
    const want = transposed ? this.outFeatures : this.inFeatures;
    if (x.rank !== 2 || x.shape[1] !== want) throw new Error(`${this.name}: input must be [rows, ${want}], got [${x.shape}]`);
    return tf.engine().runKernel(KERNEL, { x }, { id: this.id, transposed } as never) as Tensor;
  }
  dispose(): void {
    registry.delete(this.id);
  }
}

class FloatWeight extends OrtFrozenWeight {
  constructor(name: string, n: number, k: number, dtype: WeightDType, private readonly data: Float32Array | Uint16Array) {
    super(name, n, k, dtype);
  }
  get byteLength(): number {
    return this.data.byteLength;
  }
  run(x: Float32Array, rows: number, y: Float32Array, transposed: boolean): void {
    const half = this.data instanceof Uint16Array;
    const session = matMulSession(false, !transposed, half ? 'float16' : 'float32');
    const w = half ? ortTensor('float16', this.data, [this.outFeatures, this.inFeatures]) : ortTensor('float32', this.data, [this.outFeatures, this.inFeatures]);
    const [inF, outF] = transposed ? [this.outFeatures, this.inFeatures] : [this.inFeatures, this.outFeatures];
    session.run({ a: ortTensor('float32', x, [rows, inF]), b: w }, { y: ortTensor('float32', y, [rows, outF]) });
  }
  toFloat32(): Float32Array {
    if (this.data instanceof Float32Array) return this.data.slice();
    return Float32Array.from(this.data, f16BitsToNumber);
  }
  gatherRows(ids: Tensor): Tensor {
    if (ids.dtype !== 'int32') throw new Error(`${this.name}: ids must be int32, got ${ids.dtype}`);
    return tf.engine().runKernel(GATHER_KERNEL, { ids }, { id: this.id } as never) as Tensor;
  }
  /** Copies rows `ids` of W into `out` (ids checked against the table). */
  gatherInto(ids: Int32Array, out: Float32Array): void {
    const k = this.inFeatures;
    for (let i = 0; i < ids.length; i++) {
      const r = ids[i]!;
      if (!(r >= 0 && r < this.outFeatures)) throw new Error(`${this.name}: token id ${r} is outside the table (${this.outFeatures} rows)`);
      if (this.data instanceof Float32Array) out.set(this.data.subarray(r * k, (r + 1) * k), i * k);
      else for (let j = 0; j < k; j++) out[i * k + j] = f16BitsToNumber(this.data[r * k + j]!);
    }
  }
}

class NBitsWeight extends OrtFrozenWeight {
  private session: OrtSession | null;
  private readonly packedBytes: number;
  constructor(name: string, private matrix: NBitsMatrix | null, keep: boolean) {
    const m = matrix!;
    super(name, m.n, m.k, m.bits === 4 ? 'int4' : 'int8');
    const scales = Float32Array.from(m.scales, f16BitsToNumber);
    this.session = new OrtSession(
      matMulNBitsGraph({ n: m.n, k: m.k, bits: m.bits, blockSize: m.groupSize, qweight: m.qweight, scales, qzeros: m.qzeros, accuracyLevel: accuracyLevel() }),
      `MatMulNBits ${name} (int${m.bits}, [${m.n}, ${m.k}], group ${m.groupSize})`,
    );
    this.packedBytes = m.qweight.byteLength + scales.byteLength + (m.qzeros?.byteLength ?? 0);
    if (!keep) this.matrix = null;
  }
  get byteLength(): number {
    return this.packedBytes + (this.matrix ? this.matrix.qweight.byteLength + this.matrix.scales.byteLength + (this.matrix.qzeros?.byteLength ?? 0) : 0);
  }
  run(x: Float32Array, rows: number, y: Float32Array, transposed: boolean): void {
    if (!transposed) {
      this.session!.run({ a: ortTensor('float32', x, [rows, this.inFeatures]) }, { y: ortTensor('float32', y, [rows, this.outFeatures]) });
      return;
    }
    const w = dequantizeRows(this.codes('a gradient'), 0, this.outFeatures, scratchOf(this.outFeatures * this.inFeatures));
    matMulSession(false, false).run(
      { a: ortTensor('float32', x, [rows, this.outFeatures]), b: ortTensor('float32', w, [this.outFeatures, this.inFeatures]) },
      { y: ortTensor('float32', y, [rows, this.inFeatures]) },
    );
  }
  private codes(why: string): NBitsMatrix {
    if (!this.matrix) {
      throw new Error(`${this.name}: ${why} needs the ${this.dtype} codes, which were released after packing; load the model for training (gradients: true)`);
    }
    return this.matrix;
  }
  toFloat32(): Float32Array {
    return dequantizeRows(this.codes('widening to f32'));
  }
  override dispose(): void {
    super.dispose();
    this.session?.dispose();
    this.session = null;
    this.matrix = null;
  }
}

/** Places a loaded Linear weight as `dtype` for the ORT engine (the `FrozenWeightPlacer` Node installs). */
export function placeOrtWeight(name: string, src: WeightSource, dtype: WeightDType, opts: PlaceOptions): FrozenWeight {
  const [n, k] = weightShape(src);
  switch (dtype) {
    case 'f32':
      return new FloatWeight(name, n, k, 'f32', weightToFloat32(src));
    case 'f16':
    case 'bf16':
      // onnxruntime's CPU matmul has no bf16: both are held as f16 (bf16 values convert exactly unless tiny or huge).
      return new FloatWeight(name, n, k, dtype, weightToF16(src, name));
    case 'int8':
    case 'int4': {
      return new NBitsWeight(name, weightToNBits(src, dtype === 'int4' ? 4 : 8, opts.groupSize ?? 32, name), opts.gradients);
    }
  }
}

/** Registers the kernels that run frozen-weight products (and embedding lookups) on `backendName` (wasm or cpu). */
export function registerFrozenMatMulKernel(backendName: string): void {
  if (tf.getKernel(KERNEL, backendName)) return;
  tf.registerKernel({
    kernelName: GATHER_KERNEL,
    backendName,
    kernelFunc: ({ inputs, attrs, backend }) => {
      const { ids } = inputs as { ids: tf.TensorInfo };
      const w = registry.get((attrs as unknown as { id: number }).id);
      if (!(w instanceof FloatWeight)) throw new Error(`${GATHER_KERNEL}: weight ${(attrs as unknown as { id: number }).id} is not an embedding table`);
      const mem = kernelMemory(backendName, backend)!;
      const out = mem.output([...ids.shape, w.inFeatures]);
      w.gatherInto(mem.viewInt32(ids), out.values());
      return out.info;
    },
  });
  tf.registerKernel({
    kernelName: KERNEL,
    backendName,
    kernelFunc: ({ inputs, attrs, backend }) => {
      const { x } = inputs as { x: tf.TensorInfo };
      const { id, transposed } = attrs as unknown as { id: number; transposed: boolean };
      const w = registry.get(id);
      if (!w) throw new Error(`${KERNEL}: weight ${id} was disposed`);
      const mem = kernelMemory(backendName, backend)!;
      const rows = x.shape[0]!;
      const out = mem.output([rows, transposed ? w.inFeatures : w.outFeatures]);
      if (rows > 0) w.run(mem.view(x), rows, out.values(), transposed);
      return out.info;
    },
  });
}
