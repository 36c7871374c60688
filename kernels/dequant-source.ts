/**
 * Assembles the WGSL of the dequant kernels from the shared sources (kernels/dequant*.wgsl), for both hosts that
 * run them: the tfjs-webgpu programs (dequant-programs.ts) and the decode engine (src/webgpu/). Each host adds
 * its own bindings and the two hooks the kernels call (`loadGamma`, `storeOut`); the arithmetic is the same text.
 */
import { DEQUANT_WGSL } from './dequant.wgsl.js';
import { DEQUANT_MATVEC_WGSL } from './dequant-matvec.wgsl.js';
import { DEQUANT_MATMUL_WGSL } from './dequant-matmul.wgsl.js';
import { DEQUANTIZE_WGSL } from './dequantize.wgsl.js';
import { FORMAT_CODE, type PackedFormat } from './packed-weight.js';

/**
 * The matvec kernel's two shapes: `lanes` (8 lanes per output, 8 outputs per workgroup, a barrier to add the lanes
 * up: coalesced reads, for GPUs) and `rows` (one output per invocation, 64 per workgroup, no barrier: for CPU
 * implementations such as SwiftShader, where a barrier costs ~0.1 ms per workgroup).
 */
export type MatVecShape = 'lanes' | 'rows';

const SHAPES: Record<MatVecShape, { lanes: number; rowsPerWg: number; main: string }> = {
  lanes: { lanes: 8, rowsPerWg: 8, main: 'mainLanes' },
  rows: { lanes: 1, rowsPerWg: 64, main: 'mainRowSerial' },
};
/** Threads per workgroup of both kernels. */
export const DEQUANT_WG_SIZE = 64;
/** Output tile edge of the matmul kernel. */
export const MATMUL_TILE = 32;
/** Largest M the matvec kernel takes; above it the tiled matmul runs. */
export const MATVEC_MAX_ROWS = 8;

/**
 * The uniform fields both kernels read, in declaration order (tfjs appends them to its own; the engine's
 * struct has exactly these).
 */
export const DEQUANT_UNIFORM_FIELDS = [
  ['M', 'i32'],
  ['units', 'i32'],
  ['K', 'i32'],
  ['groupSize', 'i32'],
  ['nBlocks', 'i32'],
  ['rowWords', 'i32'],
  ['zeroRowBytes', 'i32'],
  ['hasZeros', 'i32'],
  ['hasBias', 'i32'],
  ['eps', 'f32'],
] as const;

/** Fusions of the matvec kernel (see dequant-matvec.wgsl). */
export interface MatVecFusion {
  norm?: boolean;
  swiglu?: boolean;
}

/** `dequant.wgsl` specialised to one format. */
function formatSource(format: PackedFormat): string {
  return `const FORMAT : i32 = ${FORMAT_CODE[format]};\n${DEQUANT_WGSL}`;
}

/** The matvec kernel's code (after the host's bindings and hooks) for `M` rows of x. */
export function matvecSource(format: PackedFormat, M: number, fusion: MatVecFusion = {}, shape: MatVecShape = 'lanes'): string {
  if (!(Number.isInteger(M) && M >= 1 && M <= MATVEC_MAX_ROWS)) throw new Error(`matvec: M = ${M} is outside 1…${MATVEC_MAX_ROWS}`);
  const sh = SHAPES[shape];
  return [
    `const M_ROWS : i32 = ${M};`,
    `const LANES : i32 = ${sh.lanes};`,
    `const ROWS_PER_WG : i32 = ${sh.rowsPerWg};`,
    `const NORM : bool = ${fusion.norm ? 'true' : 'false'};`,
    `const SWIGLU : bool = ${fusion.swiglu ? 'true' : 'false'};`,
    formatSource(format),
    DEQUANT_MATVEC_WGSL,
    `fn main(index : i32) {\n  ${sh.main}(index);\n}`,
  ].join('\n');
}

/** The matmul kernel's code (after the host's bindings and hooks). */
export function matmulSource(format: PackedFormat): string {
  return [formatSource(format), DEQUANT_MATMUL_WGSL].join('\n');
}

/** The dequantize kernel's code (W as float32), after the host's bindings and `storeOut`. */
export function dequantizeSource(format: PackedFormat): string {
  return [formatSource(format), DEQUANTIZE_WGSL].join('\n');
}

/** Workgroups of one matvec dispatch with `units` outputs per row of x. */
export function matvecWorkgroups(units: number, shape: MatVecShape = 'lanes'): number {
  return Math.ceil(units / SHAPES[shape].rowsPerWg);
}

/** Workgroups of one matmul dispatch for an `[M, N]` output. */
export function matmulWorkgroups(M: number, N: number): number {
  return Math.ceil(M / MATMUL_TILE) * Math.ceil(N / MATMUL_TILE);
}
