/**
 * The fused embedding merge on tfjs-webgpu: a custom kernel (`MultiTokenEmbeddingMerge`) that writes every
 * output row once, copied either from the embedding table or from the projected modality rows. The reference
 * (`src/splice/splice.ts`) needs two gathers, a broadcast mask and a `where`, each a full pass over `[B·T, D]`.
 *
 * Dtypes: tfjs 4.22 has no float16 dtype (its `DataType` is float32 | int32 | bool | complex64 | string) and
 * tfjs-webgpu binds only f32/i32 buffers, so an f16 or bf16 checkpoint is widened to float32 when it is loaded
 * (`src/io/half-float.ts`, exact). The kernel therefore copies f32 rows; other dtypes fall back to the reference.
 *
 * Gradient (registered with the kernel, evaluated lazily per input): d projected = each placeholder position's
 * dy row copied back to its projected row by this same kernel (bit-exact; `unsortedSegmentSum` only in the rare
 * layout where two runs name the same projected row); d table = the atomic-free table-gradient kernel
 * (`embedding-table-grad.ts`), needed only when the table is trained.
 */
import type { WebGPUBackend, WebGPUProgram } from '@tensorflow/tfjs-backend-webgpu';
import { tf, type Tensor } from '../src/tf.js';
import type { SpliceLayout } from '../src/splice/layout.js';
import { EMBEDDING_MERGE_WGSL } from './embedding-merge.wgsl.js';
import { embeddingTableGrad } from './embedding-table-grad.js';
import { RowProgram, rowLanesOf } from './row-program.js';

/** Kernel name in tfjs's registry (prefixed: custom kernel names share one namespace with tfjs's own). */
export const EMBEDDING_MERGE_KERNEL = 'MultiTokenEmbeddingMerge';

const ROW_LANES = rowLanesOf(EMBEDDING_MERGE_WGSL, 'embedding-merge.wgsl');

/**
 * The tfjs-webgpu program: output `[rows, hidden]`, inputs `table [V, hidden]`, `projected [R, hidden]`,
 * `rowIndex [rows]` (int32, see {@link buildRowIndex}). One workgroup per output row; vec4 elements when
 * `hidden % 4 == 0`.
 */
export class EmbeddingMergeProgram extends RowProgram implements WebGPUProgram {
  readonly variableNames = ['table', 'projected', 'rowIndex'];
  /** tfjs appends shapes and dtypes to this key, but not the vector width, so the key carries it. */
  shaderKey: string;
  /** Both row sources share the output's element width; the index is scalar. */
  readonly variableComponents: number[];

  constructor(rows: number, hidden: number) {
    super(rows, hidden, ROW_LANES);
    this.variableComponents = [this.outputComponent, this.outputComponent, 1];
    this.shaderKey = `multiTokenEmbeddingMerge_c${this.outputComponent}`;
  }

  getUserCode(): string {
    return EMBEDDING_MERGE_WGSL;
  }
}

/**
 * Attributes of a kernel call. Only the gradient reads them: the host copy of the row index lets it build its
 * gather lists on the CPU, lazily, instead of reading the GPU back.
 */
interface MergeAttrs {
  tableRows: number;
  projectedRows: number;
  rowIndex: Int32Array;
}

const kernelFunc: tf.KernelFunc = ({ inputs, backend }) => {
  const { table, projected, rowIndex } = inputs as Record<'table' | 'projected' | 'rowIndex', tf.TensorInfo>;
  const program = new EmbeddingMergeProgram(rowIndex.shape[0], table.shape[1]);
  return (backend as WebGPUBackend).runWebGPUProgram(program, [table, projected, rowIndex], 'float32', [
    { type: 'int32', data: [program.rowVecs] },
  ]);
};

/** The webgpu kernel config, for `tf.registerKernel`. */
export const embeddingMergeKernelConfig: tf.KernelConfig = {
  kernelName: EMBEDDING_MERGE_KERNEL,
  backendName: 'webgpu',
  kernelFunc,
};

/** The gradient config, for `tf.registerGradient`. Each input's gradient is computed only if asked for. */
export const embeddingMergeGradConfig: tf.GradConfig = {
  kernelName: EMBEDDING_MERGE_KERNEL,
  inputsToSave: ['rowIndex'],
  gradFunc: (dy, saved, attrs) => {
    const g = dy as Tensor; // [rows, D]
    const a = attrs as unknown as MergeAttrs;
    return {
      table: () => embeddingTableGrad(g, a.rowIndex, a.tableRows),
      projected: () => projectedGrad(g, saved[0], a),
      rowIndex: () => tf.zerosLike(saved[0]),
    };
  },
};

/**
 * d projected. Normally each projected row sits at exactly one position, so its gradient is that position's dy
 * row: run the merge kernel "backwards" (table := dy; projected rows no position used read one zero row).
 */
function projectedGrad(g: Tensor, rowIndex: Tensor, a: MergeAttrs): Tensor {
  const [rows, D] = g.shape as number[];
  const where = new Int32Array(a.projectedRows).fill(-1); // -1 selects the zero row
  let injective = true;
  a.rowIndex.forEach((v, p) => {
    if (v >= 0) return;
    if (where[-1 - v] !== -1) injective = false;
    where[-1 - v] = p;
  });
  if (injective) {
    const attrs: MergeAttrs = { tableRows: rows, projectedRows: 1, rowIndex: where };
    return runMerge(g, tf.zeros([1, D]), tf.tensor1d(where, 'int32'), attrs);
  }
  // A projected row used at several positions gets the sum of their dy rows. Segment -1 - rowIndex is the
  // projected row at placeholders and negative at text positions, which unsortedSegmentSum skips.
  const segments = tf.sub(tf.scalar(-1, 'int32'), rowIndex) as tf.Tensor1D;
  return tf.unsortedSegmentSum(g, segments, a.projectedRows);
}

function runMerge(table: Tensor, projected: Tensor, rowIndex: Tensor, attrs: MergeAttrs): Tensor {
  return tf.engine().runKernel(EMBEDDING_MERGE_KERNEL, { table, projected, rowIndex }, attrs as unknown as tf.NamedAttrMap) as Tensor;
}

/**
 * The kernel's row index for a layout: `tokenIds[p]` at text positions, `-(sourceRows[p] + 1)` at placeholders.
 * Checks every id and row against the tensors' sizes, since an out-of-range index on WebGPU would read another
 * row or zeros instead of failing.
 *
 * @throws Error naming the batch row and position of the first id or projected row out of range.
 */
export function buildRowIndex(layout: SpliceLayout, tableRows: number): Int32Array {
  const { tokenIds, sourceRows, seqLen: T, numProjectedRows: R } = layout;
  const rowIndex = new Int32Array(layout.batchSize * T);
  const at = (p: number) => `(batch row ${Math.floor(p / T)}, position ${p % T})`;
  for (let p = 0; p < rowIndex.length; p++) {
    const r = sourceRows[p];
    if (r >= 0) {
      if (r >= R) throw new Error(`layout.sourceRows[${p}] ${at(p)} = ${r} is not below numProjectedRows ${R}`);
      rowIndex[p] = -1 - r;
    } else {
      const id = tokenIds[p];
      if (!(id >= 0 && id < tableRows)) throw new Error(`layout.tokenIds[${p}] ${at(p)} = ${id} is outside the embedding table's ${tableRows} rows`);
      rowIndex[p] = id;
    }
  }
  return rowIndex;
}

/**
 * `mergeEmbeddings` on the webgpu backend in one kernel launch: `[B, T, D]` from `table [V, D]` and
 * `projected [R, D]`. Returns null where the kernel does not apply (another backend, a non-float32 input,
 * an empty batch), so the caller falls back to the reference.
 */
export function mergeEmbeddingsWebGPU(table: Tensor, layout: SpliceLayout, projected: Tensor): Tensor | null {
  if (tf.getBackend() !== 'webgpu') return null;
  if (table.dtype !== 'float32' || projected.dtype !== 'float32' || table.rank !== 2) return null;
  const { batchSize: B, seqLen: T } = layout;
  const [V, D] = table.shape as number[];
  if (B * T === 0 || D === 0) return null;
  const rowIndex = buildRowIndex(layout, V);
  return tf.tidy(() => {
    // A text-only batch (decode steps) still goes through the kernel, for the same deterministic gradient; its
    // projected input is one unused zero row, because WebGPU cannot bind an empty buffer.
    const rows = layout.numProjectedRows > 0 ? projected : tf.zeros([1, D]);
    const attrs: MergeAttrs = { tableRows: V, projectedRows: rows.shape[0] as number, rowIndex };
    return runMerge(table, rows, tf.tensor1d(rowIndex, 'int32'), attrs).reshape([B, T, D]);
  });
}
