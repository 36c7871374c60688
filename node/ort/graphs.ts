/**
 * The small ONNX graphs the Node engine runs: one matmul-family node each, built in memory with the project's
 * ONNX writer (src/tiny/onnx-schema.ts). Inputs have no declared shape, so one session serves every shape.
 */
import { encodeModelProto } from '../../src/tiny/onnx-schema.js';
import { ONNX_TYPE, type OrtElementType } from './binding.js';

type Attr = Record<string, unknown>;

const int = (name: string, i: number): Attr => ({ name, i, type: 2 });
const float = (name: string, f: number): Attr => ({ name, f, type: 1 });
const anyShape = (name: string, type: OrtElementType) => ({ name, type: { tensor_type: { elem_type: ONNX_TYPE[type] } } });

function model(nodes: Attr[], inputs: Attr[], outputs: Attr[], initializers: Attr[] = []): Uint8Array {
  return encodeModelProto({
    ir_version: 8,
    producer_name: 'multi-token',
    opset_import: [{ domain: '', version: 17 }, { domain: 'com.microsoft', version: 1 }],
    graph: { name: 'g', node: nodes, input: inputs, output: outputs, initializer: initializers },
  });
}

/**
 * `y = op(a) · op(b)` with numpy batch broadcasting (onnxruntime's contrib `FusedMatMul`, which takes the
 * transposes as attributes instead of materialising them). `b` may be float16 (`bType`): it is widened by a
 * `Cast` first, for weights held as f16.
 */
export function matMulGraph(transA: boolean, transB: boolean, bType: 'float32' | 'float16' = 'float32'): Uint8Array {
  const nodes: Attr[] = [];
  let b = 'b';
  if (bType === 'float16') {
    nodes.push({ op_type: 'Cast', input: ['b'], output: ['b32'], attribute: [int('to', ONNX_TYPE.float32)] });
    b = 'b32';
  }
  nodes.push({
    op_type: 'FusedMatMul',
    domain: 'com.microsoft',
    input: ['a', b],
    output: ['y'],
    attribute: [int('transA', transA ? 1 : 0), int('transB', transB ? 1 : 0), float('alpha', 1)],
  });
  return model(nodes, [anyShape('a', 'float32'), anyShape('b', bType)], [anyShape('y', 'float32')]);
}

/** A quantized Linear for `MatMulNBits`: weights are initializers so onnxruntime prepacks them once. */
export interface NBitsGraphSpec {
  n: number;
  k: number;
  bits: 4 | 8;
  blockSize: number;
  qweight: Uint8Array;
  /** f32 scales `[n, nBlocks]` (MatMulNBits wants the activation's type). */
  scales: Float32Array;
  qzeros: Uint8Array | null;
  /** 4 = int8 activations inside the kernel (fastest on AVX2/AVX-512), 0 = f32. */
  accuracyLevel: number;
}

/** `y[M, N] = a[M, K] · Wᵀ` with W in the MatMulNBits layout (docs/quantization.md). */
export function matMulNBitsGraph(s: NBitsGraphSpec): Uint8Array {
  const nb = Math.ceil(s.k / s.blockSize);
  const blob = (s.blockSize * s.bits) / 8;
  const inits: Attr[] = [
    { name: 'B', dims: [s.n, nb, blob], data_type: ONNX_TYPE.uint8, raw_data: s.qweight },
    { name: 'scales', dims: [s.n, nb], data_type: ONNX_TYPE.float32, raw_data: new Uint8Array(s.scales.buffer, s.scales.byteOffset, s.scales.byteLength) },
  ];
  const inputs = ['a', 'B', 'scales'];
  if (s.qzeros) {
    inits.push({ name: 'zp', dims: [s.qzeros.length], data_type: ONNX_TYPE.uint8, raw_data: s.qzeros });
    inputs.push('zp');
  }
  const node: Attr = {
    op_type: 'MatMulNBits',
    domain: 'com.microsoft',
    input: inputs,
    output: ['y'],
    attribute: [int('K', s.k), int('N', s.n), int('bits', s.bits), int('block_size', s.blockSize), int('accuracy_level', s.accuracyLevel)],
  };
  return model([node], [anyShape('a', 'float32')], [anyShape('y', 'float32')], inits);
}
