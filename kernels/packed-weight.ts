/**
 * How a Linear weight `[N = out, K = in]` is held on the GPU when it stays packed: 32-bit words that the WGSL
 * kernels (kernels/dequant.wgsl) read and widen per use. Isomorphic and tfjs-free: the tfjs kernels
 * (dequant-matmul.ts) hold these words in int32 tensors, the decode engine (src/webgpu/) in its own buffers.
 *
 * Quantized formats are the checkpoint layout of /work QUANT-LAYOUT.md (ONNX Runtime `MatMulNBits`), byte for
 * byte, so loading is a copy:
 *
 * - `q4` / `q8`: `words` = `P.qweight` (`[N, nBlocks, G·bits/8]` bytes; q4 two per byte, even k in the low
 *   nibble), `scales` = `P.scales` (f16, `[N, nBlocks]`, two per word), `zeros` = `P.qzeros` (q4: `[N,
 *   ceil(nBlocks/2)]` bytes, low nibble first; q8: `[N, nBlocks]`) or absent (symmetric: 8 / 128). Each array is
 *   zero-padded to whole words. `w[n,k] = (q[n,k] − z[n,b]) · s[n,b]`, `b = floor(k / G)`.
 * - `f16` / `bf16`: two per word, `f32`: one per word. Rows are padded to a multiple of 4 elements, so every
 *   kernel reads whole vec4 "units" (4 consecutive k) from any row. No scales or zeros.
 */
import { f16BitsToNumber, bf16BitsToNumber } from '../src/io/half-float.js';
import { dequantizeRows, type NBitsMatrix } from '../src/quant/nbits.js';

/** Storage format of a packed weight. */
export type PackedFormat = 'f32' | 'f16' | 'bf16' | 'q4' | 'q8';

/** The WGSL `FORMAT` constant of each format (kernels/dequant.wgsl). */
export const FORMAT_CODE: Record<PackedFormat, number> = { f32: 0, f16: 1, bf16: 2, q4: 3, q8: 4 };

/** Shape and word counts of one packed weight: everything a kernel needs besides the words themselves. */
export interface PackedLayout {
  format: PackedFormat;
  /** Output features (rows). */
  N: number;
  /** Input features (the reduction). */
  K: number;
  /** Quantization group size along K (q4/q8); for float formats the padded row length. */
  groupSize: number;
  /** Groups per row: `ceil(K / G)` (1 for float formats). */
  nBlocks: number;
  /** Words per row of `words`. */
  rowWords: number;
  /** Bytes per row of the zero points (0 without them, or for float formats). */
  zeroRowBytes: number;
  hasZeros: boolean;
}

/** Bits per stored element. */
export function formatBits(f: PackedFormat): number {
  return { f32: 32, f16: 16, bf16: 16, q4: 4, q8: 8 }[f];
}

export function isQuantized(f: PackedFormat): f is 'q4' | 'q8' {
  return f === 'q4' || f === 'q8';
}

/**
 * The layout of a weight `[N, K]` in `format`. Quantized formats need `groupSize` (a multiple of 8 for q4 and of
 * 4 for q8, so every group is whole words) and say whether zero points are stored.
 *
 * @throws Error naming the weight (`name`) when the group size cannot be read as whole words.
 */
export function packedLayout(
  format: PackedFormat,
  N: number,
  K: number,
  opts: { groupSize?: number; hasZeros?: boolean; name?: string } = {},
): PackedLayout {
  const where = opts.name ? `weight "${opts.name}"` : 'packed weight';
  if (!(Number.isInteger(N) && N > 0 && Number.isInteger(K) && K > 0)) throw new Error(`${where}: shape [${N}, ${K}] must be positive integers`);
  if (isQuantized(format)) {
    const G = opts.groupSize ?? 0;
    const bits = formatBits(format);
    if (!(Number.isInteger(G) && G > 0 && (G * bits) % 32 === 0)) {
      throw new Error(`${where}: group size ${G} with ${bits}-bit values is not a whole number of 32-bit words (use a multiple of ${32 / bits})`);
    }
    const nBlocks = Math.ceil(K / G);
    const hasZeros = opts.hasZeros ?? false;
    const zeroRowBytes = hasZeros ? (format === 'q4' ? Math.ceil(nBlocks / 2) : nBlocks) : 0;
    return { format, N, K, groupSize: G, nBlocks, rowWords: (nBlocks * G * bits) / 32, zeroRowBytes, hasZeros };
  }
  const Kp = Math.ceil(K / 4) * 4;
  return { format, N, K, groupSize: Kp, nBlocks: 1, rowWords: (Kp * formatBits(format)) / 32, zeroRowBytes: 0, hasZeros: false };
}

/** Words of `words`, `scales` and `zeros` (each at least 1: WebGPU cannot bind an empty buffer). */
export function packedWordCounts(l: PackedLayout): { words: number; scales: number; zeros: number } {
  const q = isQuantized(l.format);
  return {
    words: l.N * l.rowWords,
    scales: q ? Math.max(1, Math.ceil((l.N * l.nBlocks) / 2)) : 1,
    zeros: l.hasZeros ? Math.max(1, Math.ceil((l.N * l.zeroRowBytes) / 4)) : 1,
  };
}

/** Bytes the packed weight occupies on the GPU (its three word arrays). */
export function packedBytes(l: PackedLayout): number {
  const c = packedWordCounts(l);
  return 4 * (c.words + c.scales + c.zeros);
}

/** A packed weight's words on the CPU (little-endian u32, viewed as Int32Array for tfjs). */
export interface PackedWords {
  layout: PackedLayout;
  words: Int32Array;
  scales: Int32Array;
  zeros: Int32Array;
}

/** `bytes` zero-padded to `words` 32-bit words, as an Int32Array (copied, so alignment never matters). */
export function bytesToWords(bytes: Uint8Array, words: number): Int32Array {
  const out = new Int32Array(words);
  new Uint8Array(out.buffer).set(bytes.subarray(0, Math.min(bytes.length, words * 4)));
  return out;
}

/**
 * Packs checkpoint tensors (the QUANT-LAYOUT.md bytes) for a quantized weight. Checks every byte count against
 * the layout, naming the tensor at fault.
 */
export function packQuantized(
  layout: PackedLayout,
  qweight: Uint8Array,
  scalesF16: Uint8Array,
  qzeros: Uint8Array | null,
  name = 'weight',
): PackedWords {
  const c = packedWordCounts(layout);
  const want = (what: string, have: number, need: number) => {
    if (have !== need) throw new Error(`${name}.${what}: ${have} bytes, the ${layout.format} layout of [${layout.N}, ${layout.K}] (group ${layout.groupSize}) needs ${need}`);
  };
  want('qweight', qweight.length, layout.N * layout.rowWords * 4);
  want('scales', scalesF16.length, layout.N * layout.nBlocks * 2);
  if (layout.hasZeros) want('qzeros', qzeros?.length ?? 0, layout.N * layout.zeroRowBytes);
  return {
    layout,
    words: bytesToWords(qweight, c.words),
    scales: bytesToWords(scalesF16, c.scales),
    zeros: layout.hasZeros && qzeros ? bytesToWords(qzeros, c.zeros) : new Int32Array(1),
  };
}

/** Packs a quantized matrix as real-node's loader and quantizer hold it (src/quant/nbits.ts). */
export function packNBits(m: NBitsMatrix, name = 'weight'): PackedWords {
  const layout = packedLayout(m.bits === 4 ? 'q4' : 'q8', m.n, m.k, { groupSize: m.groupSize, hasZeros: m.qzeros !== null, name });
  const scales = new Uint8Array(m.scales.buffer, m.scales.byteOffset, m.scales.byteLength);
  return packQuantized(layout, m.qweight, scales, m.qzeros, name);
}

/** The inverse of {@link packNBits}: the stored bytes of a packed q4/q8 weight, as an `NBitsMatrix`. */
export function toNBits(p: PackedWords): NBitsMatrix {
  const l = p.layout;
  if (!isQuantized(l.format)) throw new Error(`toNBits: ${l.format} is not a quantized format`);
  const bytes = (a: Int32Array, n: number) => new Uint8Array(a.buffer, a.byteOffset, n);
  return {
    n: l.N,
    k: l.K,
    bits: l.format === 'q4' ? 4 : 8,
    groupSize: l.groupSize,
    qweight: bytes(p.words, l.N * l.rowWords * 4),
    scales: new Uint16Array(p.scales.buffer, p.scales.byteOffset, l.N * l.nBlocks),
    qzeros: l.hasZeros ? bytes(p.zeros, l.N * l.zeroRowBytes) : null,
  };
}

/**
 * Packs a float weight `[N, K]` given as 16-bit patterns (`f16`/`bf16`) or float32 values (`f32`), padding rows
 * to a multiple of 4 elements.
 */
export function packFloat(layout: PackedLayout, values: Uint16Array | Float32Array): PackedWords {
  const { N, K, format } = layout;
  const Kp = layout.groupSize;
  if (values.length !== N * K) throw new Error(`packFloat: ${values.length} values for [${N}, ${K}]`);
  const words = new Int32Array(N * layout.rowWords);
  if (format === 'f32') {
    if (!(values instanceof Float32Array)) throw new Error('packFloat: f32 needs a Float32Array');
    const f = new Float32Array(words.buffer);
    for (let n = 0; n < N; n++) f.set(values.subarray(n * K, n * K + K), n * Kp);
  } else {
    if (!(values instanceof Uint16Array)) throw new Error(`packFloat: ${format} needs 16-bit patterns (Uint16Array)`);
    const h = new Uint16Array(words.buffer);
    for (let n = 0; n < N; n++) h.set(values.subarray(n * K, n * K + K), n * Kp);
  }
  return { layout, words, scales: new Int32Array(1), zeros: new Int32Array(1) };
}

/**
 * The float32 weight `[N, K]` a packed weight stands for: the reference every kernel is tested against. For
 * q4/q8 it is `dequantizeRows` (src/quant/nbits.ts), `(q − z) · s` with the f16 scale widened exactly.
 */
export function dequantize(p: PackedWords): Float32Array {
  const l = p.layout;
  const { N, K, format } = l;
  const out = new Float32Array(N * K);
  if (format === 'f32') {
    const f = new Float32Array(p.words.buffer, p.words.byteOffset, p.words.length);
    for (let n = 0; n < N; n++) out.set(f.subarray(n * l.groupSize, n * l.groupSize + K), n * K);
    return out;
  }
  if (format === 'f16' || format === 'bf16') {
    const h = new Uint16Array(p.words.buffer, p.words.byteOffset, p.words.length * 2);
    const widen = format === 'f16' ? f16BitsToNumber : bf16BitsToNumber;
    for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) out[n * K + k] = widen(h[n * l.groupSize + k]);
    return out;
  }
  // Quantized: real-node's reference dequantizer (src/quant/nbits.ts), on the same bytes.
  return dequantizeRows(toNBits(p));
}
