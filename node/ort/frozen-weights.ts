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
import { mallocTrim } from '../glibc-malloc.js';
import { blobSize, blockCount, dequantizeRows, zeroRowBytes, type NBitsMatrix } from '../../src/quant/nbits.js';
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

/**
 * Packing a quantized weight leaves garbage in glibc's heap: onnxruntime parses each graph (a copy of the codes)
 * and prepacks into new blocks, then frees the copy into the arena, where it stays. Measured on Qwen2-1.5B's shape
 * at int4: 660 MiB of free-but-held pages after loading, and a peak RSS 350 MiB higher than with a
 * `malloc_trim(0)` after each weight. So trim once every {@link TRIM_EVERY_BYTES} packed (a trim walks the heap).
 */
const TRIM_EVERY_BYTES = 64 * 2 ** 20;
let packedSinceTrim = 0;
let trim: (() => void) | null | undefined;
function packed(bytes: number): void {
  packedSinceTrim += bytes;
  if (packedSinceTrim < TRIM_EVERY_BYTES) return;
  packedSinceTrim = 0;
  if (trim === undefined) trim = mallocTrim();
  trim?.();
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
  /**
   * `data` is f32, or 16-bit patterns: f16 (what a `bf16` Linear is held as, for onnxruntime), or bf16 as stored when
   * `bf16Bits` (an embedding table used only for lookups, which widen it exactly).
   */
  constructor(name: string, n: number, k: number, dtype: WeightDType, private readonly data: Float32Array | Uint16Array, private readonly bf16Bits = false) {
    super(name, n, k, dtype);
  }
  get byteLength(): number {
    return this.data.byteLength;
  }
  run(x: Float32Array, rows: number, y: Float32Array, transposed: boolean): void {
    if (this.bf16Bits) throw new Error(`${this.name}: held as stored bf16 for lookups only; it has no matmul`);
    const half = this.data instanceof Uint16Array;
    const session = matMulSession(false, !transposed, half ? 'float16' : 'float32');
    const w = half ? ortTensor('float16', this.data, [this.outFeatures, this.inFeatures]) : ortTensor('float32', this.data, [this.outFeatures, this.inFeatures]);
    const [inF, outF] = transposed ? [this.outFeatures, this.inFeatures] : [this.inFeatures, this.outFeatures];
    session.run({ a: ortTensor('float32', x, [rows, inF]), b: w }, { y: ortTensor('float32', y, [rows, outF]) });
  }
  toFloat32(): Float32Array {
    if (this.data instanceof Float32Array) return this.data.slice();
    const out = new Float32Array(this.data.length);
    this.widenRows(0, this.outFeatures, out, 0);
    return out;
  }
  gatherRows(ids: Tensor): Tensor {
    return gatherKernel(this, ids);
  }
  gatherInto(ids: Int32Array, out: Float32Array): void {
    gatherEach(this, ids, (r, o) => this.widenRows(r, r + 1, out, o));
  }
  private widenRows(r0: number, r1: number, out: Float32Array, o: number): void {
    const k = this.inFeatures;
    const d = this.data;
    if (d instanceof Float32Array) return out.set(d.subarray(r0 * k, r1 * k), o);
    if (this.bf16Bits) {
      // bf16 is the top half of an f32: widening is a shift, exact.
      const u = new Uint32Array(out.buffer, out.byteOffset + o * 4, (r1 - r0) * k);
      for (let i = 0; i < u.length; i++) u[i] = d[r0 * k + i]! << 16;
      return;
    }
    for (let i = 0; i < (r1 - r0) * k; i++) out[o + i] = f16BitsToNumber(d[r0 * k + i]!);
  }
}

/** Runs the gather kernel for a table weight (ids of any shape → `[...ids.shape, in]`). */
function gatherKernel(w: OrtFrozenWeight, ids: Tensor): Tensor {
  if (ids.dtype !== 'int32') throw new Error(`${w.name}: ids must be int32, got ${ids.dtype}`);
  return tf.engine().runKernel(GATHER_KERNEL, { ids }, { id: w.id } as never) as Tensor;
}

/** Calls `row(r, outOffset)` for each id, checked against the table. */
function gatherEach(w: OrtFrozenWeight, ids: Int32Array, row: (r: number, o: number) => void): void {
  for (let i = 0; i < ids.length; i++) {
    const r = ids[i]!;
    if (!(r >= 0 && r < w.outFeatures)) throw new Error(`${w.name}: token id ${r} is outside the table (${w.outFeatures} rows)`);
    row(r, i * w.inFeatures);
  }
}

/**
 * Most values one `MatMulNBits` session holds. A larger weight (a vocabulary-sized table: 233 M values for
 * Qwen2-1.5B) is split by rows into several sessions, because building a session holds the codes three times at
 * once (ours, the graph's copy, onnxruntime's parse) plus the packed result: one session for Qwen2-1.5B's int8
 * table lifted peak RSS by 1 GB while it was built, each 32 M-value slab by a seventh of that.
 */
const SLAB_VALUES = 32 * 2 ** 20;
/** {@link SLAB_VALUES}, or `MULTI_TOKEN_ORT_SLAB_VALUES` (tests split small weights to check the slabs agree). */
function slabValues(): number {
  const env = Number(process.env.MULTI_TOKEN_ORT_SLAB_VALUES);
  return Number.isInteger(env) && env > 0 ? env : SLAB_VALUES;
}

/** Rows `[r0, r1)` of a weight and the session that multiplies by them. */
interface Slab {
  r0: number;
  r1: number;
  session: OrtSession;
}

let outScratch = new Float32Array(0);
function outScratchOf(n: number): Float32Array {
  if (outScratch.length < n) outScratch = new Float32Array(n);
  return outScratch.subarray(0, n);
}

class NBitsWeight extends OrtFrozenWeight {
  private slabs: Slab[] = [];
  private readonly packedBytes: number;
  constructor(name: string, private matrix: NBitsMatrix | null, keep: boolean) {
    const m = matrix!;
    super(name, m.n, m.k, m.bits === 4 ? 'int4' : 'int8');
    const nb = blockCount(m);
    const codeRow = nb * blobSize(m);
    const zRow = zeroRowBytes(m);
    const rowsPer = Math.max(1, Math.floor(slabValues() / m.k));
    let bytes = 0;
    for (let r0 = 0; r0 < m.n; r0 += rowsPer) {
      const r1 = Math.min(m.n, r0 + rowsPer);
      const scales = Float32Array.from(m.scales.subarray(r0 * nb, r1 * nb), f16BitsToNumber);
      const qweight = m.qweight.subarray(r0 * codeRow, r1 * codeRow);
      const qzeros = m.qzeros ? m.qzeros.subarray(r0 * zRow, r1 * zRow) : null;
      const rows = r1 === m.n && r0 === 0 ? '' : ` rows ${r0}…${r1 - 1}`;
      const session = new OrtSession(
        matMulNBitsGraph({ n: r1 - r0, k: m.k, bits: m.bits, blockSize: m.groupSize, qweight, scales, qzeros, accuracyLevel: accuracyLevel() }),
        `MatMulNBits ${name}${rows} (int${m.bits}, [${m.n}, ${m.k}], group ${m.groupSize})`,
      );
      this.slabs.push({ r0, r1, session });
      const slabBytes = qweight.byteLength + scales.byteLength + (qzeros?.byteLength ?? 0);
      bytes += slabBytes;
      packed(slabBytes);
    }
    this.packedBytes = bytes;
    if (!keep) this.matrix = null;
  }
  get byteLength(): number {
    return this.packedBytes + (this.matrix ? this.matrix.qweight.byteLength + this.matrix.scales.byteLength + (this.matrix.qzeros?.byteLength ?? 0) : 0);
  }
  run(x: Float32Array, rows: number, y: Float32Array, transposed: boolean): void {
    const n = this.outFeatures;
    const k = this.inFeatures;
    if (!transposed) {
      const a = ortTensor('float32', x, [rows, k]);
      for (const s of this.slabs) {
        const w = s.r1 - s.r0;
        // One slab, or one row: the slab's outputs are contiguous in y.
        if (this.slabs.length === 1 || rows === 1) {
          s.session.run({ a }, { y: ortTensor('float32', y.subarray(s.r0, s.r0 + rows * w), [rows, w]) });
          continue;
        }
        const part = outScratchOf(rows * w);
        s.session.run({ a }, { y: ortTensor('float32', part, [rows, w]) });
        for (let i = 0; i < rows; i++) y.set(part.subarray(i * w, (i + 1) * w), i * n + s.r0);
      }
      return;
    }
    // dy · W = Σ over slabs of dy[:, slab] · W[slab, :], each slab dequantized in turn.
    const m = this.codes('a gradient');
    for (let si = 0; si < this.slabs.length; si++) {
      const { r0, r1 } = this.slabs[si]!;
      const w = r1 - r0;
      const wf = dequantizeRows(m, r0, r1, scratchOf(w * k));
      let dy = x;
      if (this.slabs.length > 1) {
        dy = outScratchOf(rows * w + (si > 0 ? rows * k : 0)).subarray(0, rows * w);
        for (let i = 0; i < rows; i++) dy.set(x.subarray(i * n + r0, i * n + r1), i * w);
      }
      const into = si === 0 ? y : outScratch.subarray(rows * w, rows * w + rows * k);
      matMulSession(false, false).run(
        { a: ortTensor('float32', dy, [rows, w]), b: ortTensor('float32', wf, [w, k]) },
        { y: ortTensor('float32', into, [rows, k]) },
      );
      if (si > 0) for (let i = 0; i < rows * k; i++) y[i]! += into[i]!;
    }
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
  /** Only for an embedding table placed with its codes kept (the tied int8 table): lookups dequantize rows. */
  gatherRows(ids: Tensor): Tensor {
    this.codes('a lookup');
    return gatherKernel(this, ids);
  }
  gatherInto(ids: Int32Array, out: Float32Array): void {
    const m = this.codes('a lookup');
    gatherEach(this, ids, (r, o) => dequantizeRows(m, r, r + 1, out.subarray(o, o + this.inFeatures)));
  }
  override dispose(): void {
    super.dispose();
    for (const s of this.slabs) s.session.dispose();
    this.slabs = [];
    this.matrix = null;
  }
}

/** Places a loaded Linear weight as `dtype` for the ORT engine (the `FrozenWeightPlacer` Node installs). */
export function placeOrtWeight(name: string, src: WeightSource, dtype: WeightDType, opts: PlaceOptions): FrozenWeight {
  const [n, k] = weightShape(src);
  if (opts.table) return placeTable(name, src, dtype, opts.table, n, k);
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

/** The embedding table as src/lm/memory-plan.ts `tableDType` chose (the loader passes that choice as `dtype`). */
function placeTable(name: string, src: WeightSource, dtype: WeightDType, use: 'lookup' | 'tied', n: number, k: number): FrozenWeight {
  if (dtype === 'f32') return new FloatWeight(name, n, k, 'f32', weightToFloat32(src));
  if (dtype === 'int8' || dtype === 'int4') return new NBitsWeight(name, weightToNBits(src, dtype === 'int4' ? 4 : 8, 32, name), true);
  if (use === 'tied') return new FloatWeight(name, n, k, 'f16', weightToF16(src, name)); // f16 matmul through Cast
  // Lookups only: keep the stored 16-bit values.
  if (dtype === 'bf16' && src.kind === 'float' && src.raw.dtype === 'BF16') {
    const d = src.raw.data;
    const bits = d.byteOffset % 2 === 0 ? new Uint16Array(d.buffer, d.byteOffset, d.byteLength / 2) : new Uint16Array(d.slice().buffer);
    return new FloatWeight(name, n, k, 'bf16', bits, true);
  }
  return new FloatWeight(name, n, k, 'f16', weightToF16(src, name));
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
      if (!(w instanceof FloatWeight || w instanceof NBitsWeight)) throw new Error(`${GATHER_KERNEL}: weight ${(attrs as unknown as { id: number }).id} is not an embedding table`);
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
