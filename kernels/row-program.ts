/**
 * What the project's WebGPU programs share: each writes an output `[rows, hidden]` with one workgroup of
 * `ROW_LANES` lanes per row, in vec4 elements when `hidden % 4 == 0`, and reads the row width (in elements) from a
 * `rowVecs` uniform. Both kernels import this file and neither imports the other, so `kernels/` has no cycle.
 */

/**
 * Reads `const ROW_LANES : i32 = <n>;` from a WGSL source, so the workgroup size has one source of truth.
 *
 * @throws Error naming the file when the line is missing.
 */
export function rowLanesOf(wgsl: string, file: string): number {
  const lanes = Number(/const ROW_LANES\s*:\s*i32\s*=\s*(\d+)/.exec(wgsl)?.[1]);
  if (!(lanes > 0)) throw new Error(`kernels/${file}: no \`const ROW_LANES : i32 = <n>;\` line`);
  return lanes;
}

/** The fields of a tfjs-webgpu program that writes `[rows, hidden]` one workgroup per row. */
export abstract class RowProgram {
  readonly outputShape: number[];
  readonly dispatchLayout = { x: [0, 1] };
  dispatch: [number, number, number];
  readonly workgroupSize: [number, number, number];
  /** Elements are vec4<f32> (4) or f32 (1). */
  readonly outputComponent: number;
  readonly uniforms = 'rowVecs : i32,';

  constructor(rows: number, hidden: number, rowLanes: number) {
    this.outputShape = [rows, hidden];
    this.outputComponent = hidden % 4 === 0 ? 4 : 1;
    // One workgroup per row; tfjs's reshapeDispatch folds x > 65535 workgroups into y (and z).
    this.dispatch = [rows, 1, 1];
    this.workgroupSize = [rowLanes, 1, 1];
  }

  /** The `rowVecs` uniform: the row width in elements. */
  get rowVecs(): number {
    return this.outputShape[1]! / this.outputComponent;
  }
}
