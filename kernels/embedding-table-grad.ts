/**
 * Gradient of the embedding table through the merge, as a tfjs-webgpu kernel (`MultiTokenEmbeddingTableGrad`):
 * `dTable[v] = Σ dy[p]` over the text positions p holding token v, summed in ascending p with no atomics.
 *
 * Why a kernel: tfjs's route (`unsortedSegmentSum`) adds with a compare-and-swap loop per element, which
 * serialises on repeated tokens and makes the last bit depend on scheduling. bench/splice.ts measures both.
 */
import type { WebGPUBackend, WebGPUProgram } from '@tensorflow/tfjs-backend-webgpu';
import { tf, type Tensor } from '../src/tf.js';
import { EMBEDDING_TABLE_GRAD_WGSL } from './embedding-table-grad.wgsl.js';
import { RowProgram, rowLanesOf } from './row-program.js';

/** Kernel name in tfjs's registry. */
export const EMBEDDING_TABLE_GRAD_KERNEL = 'MultiTokenEmbeddingTableGrad';

const ROW_LANES = rowLanesOf(EMBEDDING_TABLE_GRAD_WGSL, 'embedding-table-grad.wgsl');

/** Output `[V, hidden]`; inputs `dy [rows, hidden]`, `rowStart [V + 1]`, `positions [M]` (int32). */
export class EmbeddingTableGradProgram extends RowProgram implements WebGPUProgram {
  readonly variableNames = ['dy', 'rowStart', 'positions'];
  shaderKey: string;
  readonly variableComponents: number[];

  constructor(tableRows: number, hidden: number) {
    super(tableRows, hidden, ROW_LANES);
    this.variableComponents = [this.outputComponent, 1, 1];
    this.shaderKey = `multiTokenEmbeddingTableGrad_c${this.outputComponent}`;
  }

  getUserCode(): string {
    // The element type for `Elem(0.0)`; tfjs defines none of its own.
    return `alias Elem = ${this.outputComponent === 4 ? 'vec4<f32>' : 'f32'};\n${EMBEDDING_TABLE_GRAD_WGSL}`;
  }
}

const kernelFunc: tf.KernelFunc = ({ inputs, backend }) => {
  const { dy, rowStart, positions } = inputs as Record<'dy' | 'rowStart' | 'positions', tf.TensorInfo>;
  const program = new EmbeddingTableGradProgram(rowStart.shape[0] - 1, dy.shape[1]);
  return (backend as WebGPUBackend).runWebGPUProgram(program, [dy, rowStart, positions], 'float32', [
    { type: 'int32', data: [program.rowVecs] },
  ]);
};

/** The webgpu kernel config, for `tf.registerKernel` (no gradient of its own: second order is not supported). */
export const embeddingTableGradKernelConfig: tf.KernelConfig = {
  kernelName: EMBEDDING_TABLE_GRAD_KERNEL,
  backendName: 'webgpu',
  kernelFunc,
};

/**
 * Text positions grouped by token id (CSR): the positions of token v are
 * `positions[rowStart[v] .. rowStart[v + 1])`, ascending. `rowIndex` is the merge's: ids ≥ 0, placeholders < 0.
 */
export function groupPositionsByToken(rowIndex: Int32Array, tableRows: number): { rowStart: Int32Array; positions: Int32Array } {
  const rowStart = new Int32Array(tableRows + 1);
  for (const v of rowIndex) if (v >= 0) rowStart[v + 1]++;
  for (let v = 0; v < tableRows; v++) rowStart[v + 1] += rowStart[v];
  const next = rowStart.slice(0, tableRows);
  const positions = new Int32Array(rowStart[tableRows]);
  rowIndex.forEach((v, p) => {
    if (v >= 0) positions[next[v]++] = p;
  });
  return { rowStart, positions };
}

/** `[tableRows, D]` gradient of the table given the merge output's gradient `dy [rows, D]`. */
export function embeddingTableGrad(dy: Tensor, rowIndex: Int32Array, tableRows: number): Tensor {
  const { rowStart, positions } = groupPositionsByToken(rowIndex, tableRows);
  // No text position at all: nothing reads the table (and WebGPU cannot bind an empty positions buffer).
  if (positions.length === 0) return tf.zeros([tableRows, dy.shape[1] as number]);
  return tf.engine().runKernel(EMBEDDING_TABLE_GRAD_KERNEL, {
    dy,
    rowStart: tf.tensor1d(rowStart, 'int32'),
    positions: tf.tensor1d(positions, 'int32'),
  }) as Tensor;
}
