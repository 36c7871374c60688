/**
 * Tiny ONNX encoders made by the project itself, for tests of the ONNX modality (no downloads, no Python).
 *
 * The graph is the smallest thing that behaves like a real encoder export — a dynamic batch dimension, named
 * inputs/outputs, weights as initializers:
 *
 * ```
 * float input [batch, ...inputShape]  → ReduceMean(reduceAxes)? ─┐
 * int64 ids   [batch, seq] → Gather(embedding) ──────────────────┴→ MatMul(W) → Add(b) → Relu → output
 * output → ReduceMean(axis 1)  → pooled output (optional)
 * ```
 *
 * Weights are exposed so a test can compute the expected output by hand.
 */
import { Rng } from '../util/rng.js';
import { OnnxDataType, encodeModelProto } from './onnx-schema.js';

/** Options of {@link tinyOnnxEncoder}. */
export interface TinyOnnxOptions {
  /** Graph input name. Default `'input'`. */
  inputName?: string;
  /**
   * Input dims after the dynamic batch dim, e.g. `[4, 8]` → `[batch, 4, 8]`; `-1` makes a dim dynamic. For a
   * token-id encoder (`vocabSize` set) this is `[seq]`.
   */
  inputShape: number[];
  /** Axes of the full input (batch = 0) averaged away first, e.g. `[2, 3]` for images `[batch, 3, H, W]`. */
  reduceAxes?: number[];
  /** Keep reduced axes as size 1 (so `[batch, samples]` averaged over axis 1 is `[batch, 1]`). Default false. */
  keepDims?: boolean;
  /** Makes the input int64 token ids looked up in a `[vocabSize, embedDim]` table (text encoders). */
  vocabSize?: number;
  /** Embedding width for token ids. Default 8. */
  embedDim?: number;
  /** Output feature width. */
  outDim: number;
  /** Main output name. Default `'last_hidden_state'`. */
  outputName?: string;
  /** If set, a second output: the main output averaged over axis 1. */
  pooledName?: string;
  /** Weight seed. Default 0. */
  seed?: number;
}

/** A generated model and its weights (row-major). */
export interface TinyOnnxModel {
  /** The serialized `ModelProto`. */
  bytes: Uint8Array;
  /** `[inDim, outDim]`, so `y = relu(x · W + b)`. */
  weight: Float32Array;
  bias: Float32Array;
  /** `[vocabSize, embedDim]` for token-id models. */
  embedding: Float32Array | null;
  inDim: number;
  outDim: number;
  /** Output shape with `'batch'` (and other symbolic dims) as strings, as ONNX metadata reports it. */
  outputShape: (number | string)[];
}

type Dim = number | string;

function valueInfo(name: string, elemType: number, dims: Dim[]): Record<string, unknown> {
  return {
    name,
    type: {
      tensor_type: {
        elem_type: elemType,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dim_value: d } : { dim_param: d })) },
      },
    },
  };
}

function floatInit(name: string, dims: number[], data: Float32Array): Record<string, unknown> {
  // raw_data is little-endian; every platform ONNX targets (and JS typed arrays here) is little-endian.
  return { name, dims, data_type: OnnxDataType.FLOAT, raw_data: new Uint8Array(data.buffer.slice(0)) };
}

function node(op: string, inputs: string[], outputs: string[], attrs: Record<string, unknown>[] = []): Record<string, unknown> {
  return { op_type: op, name: `${op}_${outputs[0]}`, input: inputs, output: outputs, attribute: attrs };
}

const intsAttr = (name: string, ints: number[]) => ({ name, ints, type: 7 });
const intAttr = (name: string, i: number) => ({ name, i, type: 2 });

/** Builds a tiny ONNX encoder (opset 13, IR 7) — see the file comment for the graph. */
export function tinyOnnxEncoder(o: TinyOnnxOptions): TinyOnnxModel {
  const rng = new Rng(o.seed ?? 0);
  const rand = (n: number, scale: number) => Float32Array.from({ length: n }, () => (rng.next() * 2 - 1) * scale);
  const inputName = o.inputName ?? 'input';
  const outputName = o.outputName ?? 'last_hidden_state';
  const dynamicDims = (dims: number[], prefix: string): Dim[] => dims.map((d, i) => (d < 0 ? `${prefix}${i + 1}` : d));
  const nodes: Record<string, unknown>[] = [];
  const inits: Record<string, unknown>[] = [];
  let inputInfo: Record<string, unknown>;
  let features: string;
  let featureDims: Dim[]; // shape of `features` without its last (feature) dim
  let inDim: number;
  let embedding: Float32Array | null = null;

  if (o.vocabSize !== undefined) {
    if (o.inputShape.length !== 1) throw new Error('tinyOnnxEncoder: token-id input shape must be [seq]');
    inDim = o.embedDim ?? 8;
    embedding = rand(o.vocabSize * inDim, 1);
    inits.push(floatInit('embedding', [o.vocabSize, inDim], embedding));
    const dims = ['batch', ...dynamicDims(o.inputShape, 'd')];
    inputInfo = valueInfo(inputName, OnnxDataType.INT64, dims);
    nodes.push(node('Gather', ['embedding', inputName], ['embedded'], [intAttr('axis', 0)]));
    features = 'embedded';
    featureDims = dims;
  } else {
    const dims: Dim[] = ['batch', ...dynamicDims(o.inputShape, 'd')];
    inputInfo = valueInfo(inputName, OnnxDataType.FLOAT, dims);
    features = inputName;
    let kept = dims;
    const axes = o.reduceAxes ?? [];
    if (axes.length) {
      if (axes.some((a) => a <= 0 || a >= dims.length)) throw new Error(`tinyOnnxEncoder: bad reduceAxes [${axes}]`);
      const keep = o.keepDims ?? false;
      nodes.push(node('ReduceMean', [inputName], ['reduced'], [intsAttr('axes', axes), intAttr('keepdims', keep ? 1 : 0)]));
      features = 'reduced';
      kept = keep ? dims.map((d, i) => (axes.includes(i) ? 1 : d)) : dims.filter((_, i) => !axes.includes(i));
    }
    const last = kept[kept.length - 1];
    if (kept.length < 2 || typeof last !== 'number') {
      throw new Error('tinyOnnxEncoder: the last remaining input dim must be a fixed feature size');
    }
    inDim = last;
    featureDims = kept.slice(0, -1);
  }

  const weight = rand(inDim * o.outDim, 1 / Math.sqrt(inDim));
  const bias = rand(o.outDim, 0.1);
  inits.push(floatInit('W', [inDim, o.outDim], weight), floatInit('b', [o.outDim], bias));
  nodes.push(node('MatMul', [features, 'W'], ['projected']));
  nodes.push(node('Add', ['projected', 'b'], ['biased']));
  nodes.push(node('Relu', ['biased'], [outputName]));
  const outputShape: Dim[] = [...featureDims, o.outDim];
  const outputs = [valueInfo(outputName, OnnxDataType.FLOAT, outputShape)];
  if (o.pooledName) {
    if (outputShape.length < 3) throw new Error('tinyOnnxEncoder: a pooled output needs a token axis');
    nodes.push(node('ReduceMean', [outputName], [o.pooledName], [intsAttr('axes', [1]), intAttr('keepdims', 0)]));
    outputs.push(valueInfo(o.pooledName, OnnxDataType.FLOAT, [outputShape[0]!, ...outputShape.slice(2)]));
  }

  const bytes = encodeModelProto({
    ir_version: 7,
    producer_name: 'multi-token tiny-onnx',
    producer_version: '1',
    opset_import: [{ domain: '', version: 13 }],
    graph: { name: 'tiny_encoder', node: nodes, initializer: inits, input: [inputInfo], output: outputs },
  });
  return { bytes, weight, bias, embedding, inDim, outDim: o.outDim, outputShape };
}
