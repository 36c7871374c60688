/**
 * `x · Wᵀ (+ b)` with W kept packed (4-/8-bit groups, f16, bf16 or f32 words; kernels/packed-weight.ts) as a
 * tfjs-webgpu kernel, `MultiTokenDequantMatMul`: the matvec kernel for M ≤ 8 rows (decode), the tiled matmul
 * above (prefill). The packed words live in int32 tensors, so they stay packed on the GPU; the kernels widen
 * each weight where it is used and never write a float copy of W.
 *
 * On other backends {@link dequantMatMul} dequantizes on the CPU and uses tf.matMul (the reference).
 */
import type { WebGPUBackend, WebGPUProgram } from '@tensorflow/tfjs-backend-webgpu';
import { tf, type Tensor, type Tensor1D, type Tensor2D } from '../src/tf.js';
import {
  DEQUANT_UNIFORM_FIELDS,
  DEQUANT_WG_SIZE,
  MATVEC_MAX_ROWS,
  matmulSource,
  matmulWorkgroups,
  matvecSource,
  matvecWorkgroups,
  type MatVecFusion,
  type MatVecShape,
} from './dequant-source.js';
import { dequantize, packedWordCounts, type PackedFormat, type PackedLayout, type PackedWords } from './packed-weight.js';

/** Kernel name in tfjs's registry. */
export const DEQUANT_MATMUL_KERNEL = 'MultiTokenDequantMatMul';

/** A packed weight whose words are int32 tensors (on whichever backend is active). */
export interface PackedTensors {
  layout: PackedLayout;
  words: Tensor1D;
  scales: Tensor1D;
  zeros: Tensor1D;
}

/** Uploads packed words as int32 tensors (the caller owns them; {@link disposePacked} frees them). */
export function packedToTensors(p: PackedWords): PackedTensors {
  return {
    layout: p.layout,
    words: tf.tensor1d(p.words, 'int32'),
    scales: tf.tensor1d(p.scales, 'int32'),
    zeros: tf.tensor1d(p.zeros, 'int32'),
  };
}

export function disposePacked(p: PackedTensors): void {
  p.words.dispose();
  p.scales.dispose();
  p.zeros.dispose();
}

/** Kernel attributes: the layout, flattened (tfjs attrs are plain values). */
type DequantAttrs = Omit<PackedLayout, 'hasZeros'> & { hasZeros: number; hasBias: number; swiglu: number; shape: MatVecShape | '' };

const hooks = `
fn unpackHalf2(v : u32) -> vec2<f32> {
  return unpack2x16float(v);
}
fn loadGamma(k : i32) -> f32 {
  return 1.0;
}
fn storeOut(i : i32, v : f32) {
  result[i] = v;
}
`;

const uniformDecl = DEQUANT_UNIFORM_FIELDS.map(([n, t]) => `${n} : ${t},`).join(' ');

abstract class DequantProgram implements WebGPUProgram {
  readonly variableNames = ['x', 'w', 'scales', 'zeros', 'bias'];
  readonly outputShape: number[];
  shaderKey: string;
  readonly dispatchLayout = { x: [0, 1] };
  dispatch: [number, number, number];
  readonly workgroupSize: [number, number, number] = [DEQUANT_WG_SIZE, 1, 1];
  readonly uniforms = uniformDecl;

  constructor(M: number, units: number, workgroups: number, key: string) {
    this.outputShape = [M, units];
    this.dispatch = [workgroups, 1, 1];
    this.shaderKey = key;
  }
  abstract getUserCode(): string;
}

class MatVecProgram extends DequantProgram {
  constructor(
    private readonly format: PackedFormat,
    private readonly M: number,
    units: number,
    private readonly fusion: MatVecFusion,
    private readonly shape: MatVecShape,
  ) {
    super(M, units, matvecWorkgroups(units, shape), `multiTokenDequantMatVec_${format}_m${M}_s${fusion.swiglu ? 1 : 0}_${shape}`);
  }
  getUserCode(): string {
    return hooks + matvecSource(this.format, this.M, this.fusion, this.shape);
  }
}

/** The matvec shape for this backend's adapter: `rows` on SwiftShader (a CPU), `lanes` on GPUs. */
function shapeFor(backend: WebGPUBackend): MatVecShape {
  const info = (backend as unknown as { adapterInfo?: { architecture?: string; vendor?: string } }).adapterInfo;
  return /swiftshader/i.test(`${info?.vendor ?? ''} ${info?.architecture ?? ''}`) ? 'rows' : 'lanes';
}

class MatMulProgram extends DequantProgram {
  constructor(
    private readonly format: PackedFormat,
    M: number,
    N: number,
  ) {
    super(M, N, matmulWorkgroups(M, N), `multiTokenDequantMatMul_${format}`);
  }
  getUserCode(): string {
    return hooks + matmulSource(this.format);
  }
}

const kernelFunc: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const { x, w, scales, zeros, bias } = inputs as Record<'x' | 'w' | 'scales' | 'zeros' | 'bias', tf.TensorInfo>;
  const a = attrs as unknown as DequantAttrs;
  const M = x.shape[0];
  const swiglu = a.swiglu === 1;
  const units = swiglu ? a.N / 2 : a.N;
  const shape = a.shape || shapeFor(backend as WebGPUBackend);
  const program =
    M <= MATVEC_MAX_ROWS || swiglu ? new MatVecProgram(a.format, M, units, { swiglu }, shape) : new MatMulProgram(a.format, M, a.N);
  const uniforms = [M, units, a.K, a.groupSize, a.nBlocks, a.rowWords, a.zeroRowBytes, a.hasZeros, a.hasBias];
  return (backend as WebGPUBackend).runWebGPUProgram(program, [x, w, scales, zeros, bias], 'float32', [
    ...uniforms.map((v) => ({ type: 'int32', data: [v] })),
    { type: 'float32', data: [0] },
  ]);
};

/** The webgpu kernel config, for `tf.registerKernel`. */
export const dequantMatMulKernelConfig: tf.KernelConfig = {
  kernelName: DEQUANT_MATMUL_KERNEL,
  backendName: 'webgpu',
  kernelFunc,
};

/** Options of {@link dequantMatMul}. */
export interface DequantMatMulOptions {
  bias?: Tensor1D | null;
  /**
   * W holds gate rows then up rows (`[2F, K]`); the result is `silu(x·gateᵀ + b_g) · (x·upᵀ + b_u)`, `[M, F]`
   * (the SwiGLU MLP's first half in one kernel; matvec kernel at any M).
   */
  swiglu?: boolean;
  /** The matvec kernel's shape (default: `rows` on SwiftShader, `lanes` elsewhere; see dequant-source.ts). */
  shape?: MatVecShape;
}

/**
 * `x [M, K] · Wᵀ (+ bias)` → `[M, N]` with W packed. On webgpu one kernel launch that reads W packed; elsewhere
 * W is dequantized on the CPU (reading its words back) and multiplied with tf.matMul.
 *
 * @throws Error when x's width is not the layout's K, or the bias has the wrong length.
 */
export function dequantMatMul(x: Tensor2D, p: PackedTensors, opts: DequantMatMulOptions = {}): Tensor2D {
  const l = p.layout;
  const [M, K] = x.shape;
  if (K !== l.K) throw new Error(`dequantMatMul: x is [${M}, ${K}], the weight is [${l.N}, ${l.K}]`);
  const bias = opts.bias ?? null;
  if (bias && bias.shape[0] !== l.N) throw new Error(`dequantMatMul: bias has ${bias.shape[0]} entries, the weight ${l.N} rows`);
  if (opts.swiglu && l.N % 2 !== 0) throw new Error(`dequantMatMul: swiglu needs an even number of rows, got ${l.N}`);
  const c = packedWordCounts(l);
  if (p.words.size !== c.words || p.scales.size !== c.scales || p.zeros.size !== c.zeros) {
    throw new Error(`dequantMatMul: packed tensors hold ${p.words.size}/${p.scales.size}/${p.zeros.size} words, the layout needs ${c.words}/${c.scales}/${c.zeros}`);
  }
  if (tf.getBackend() !== 'webgpu') return referenceMatMul(x, p, bias, opts.swiglu ?? false);
  return tf.tidy(() => {
    const attrs: DequantAttrs = { ...l, hasZeros: l.hasZeros ? 1 : 0, hasBias: bias ? 1 : 0, swiglu: opts.swiglu ? 1 : 0, shape: opts.shape ?? '' };
    const b = bias ?? tf.zeros([1]);
    const inputs = { x, w: p.words, scales: p.scales, zeros: p.zeros, bias: b };
    return tf.engine().runKernel(DEQUANT_MATMUL_KERNEL, inputs, attrs as unknown as tf.NamedAttrMap) as Tensor2D;
  });
}

/** The float32 weight `[N, K]` of packed tensors, read back and dequantized on the CPU. */
export function dequantizeTensors(p: PackedTensors): Tensor2D {
  const words: PackedWords = {
    layout: p.layout,
    words: p.words.dataSync() as Int32Array,
    scales: p.scales.dataSync() as Int32Array,
    zeros: p.zeros.dataSync() as Int32Array,
  };
  return tf.tensor2d(dequantize(words), [p.layout.N, p.layout.K]);
}

function referenceMatMul(x: Tensor2D, p: PackedTensors, bias: Tensor1D | null, swiglu: boolean): Tensor2D {
  return tf.tidy(() => {
    let y: Tensor = tf.matMul(x, dequantizeTensors(p), false, true);
    if (bias) y = tf.add(y, bias);
    if (swiglu) {
      const [gate, up] = tf.split(y, 2, 1);
      y = tf.mul(tf.mul(gate, tf.sigmoid(gate)), up);
    }
    return y as Tensor2D;
  });
}
