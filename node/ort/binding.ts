/**
 * onnxruntime-node's native session, called synchronously.
 *
 * Why the internal binding: tfjs kernels must return synchronously, and the public `InferenceSession.run` is
 * async only because it defers the call with `setImmediate`; the native `run(feeds, fetches, options)` it wraps
 * is synchronous (6–8 µs a call measured here). `dist/binding.js` is the package's own export of that object
 * (stable since 1.14; onnxruntime-node is pinned exactly in package.json for this reason).
 *
 * Inputs are passed zero-copy (the native side wraps the typed array's memory), and a preallocated output
 * (a typed array passed in `fetches`) is written in place: no per-call output buffers, and tfjs's own memory
 * (even the wasm heap) can be the destination.
 */
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';

/** The element types used here, with their ONNX `TensorProto.DataType` codes. */
export const ONNX_TYPE = { float32: 1, uint8: 2, int32: 6, float16: 10 } as const;
export type OrtElementType = keyof typeof ONNX_TYPE;

type TypedData = Float32Array | Uint8Array | Int32Array | Uint16Array;

/** A tensor as the native binding reads it. */
export interface OrtTensorLike {
  type: OrtElementType;
  data: TypedData;
  dims: number[];
  location: 'cpu';
}

interface NativeSession {
  loadModel(buffer: ArrayBuffer, byteOffset: number, byteLength: number, options: object): void;
  run(feeds: Record<string, OrtTensorLike>, fetches: Record<string, OrtTensorLike | null>, options: object): Record<string, { data: TypedData; dims: number[] }>;
  dispose(): void;
}

interface Binding {
  InferenceSession: new () => NativeSession;
}

let binding: Binding | null = null;

function nativeBinding(): Binding {
  if (binding) return binding;
  const require = createRequire(import.meta.url);
  const mod = require('onnxruntime-node/dist/binding.js') as { binding: Binding; initOrt: () => void };
  mod.initOrt();
  binding = mod.binding;
  return binding;
}

/** Threads for ORT's intra-op pool: one per core (`MULTI_TOKEN_ORT_THREADS` overrides). */
export function ortThreads(): number {
  const env = Number(process.env.MULTI_TOKEN_ORT_THREADS);
  return Number.isInteger(env) && env > 0 ? env : availableParallelism();
}

/** Counters for tests and benchmarks (how much work reached ORT). */
export const ortStats = { sessions: 0, runs: 0 };

/** A tensor the binding reads (and, as a fetch, writes into). */
export function ortTensor(type: OrtElementType, data: TypedData, dims: number[]): OrtTensorLike {
  return { type, data, dims, location: 'cpu' };
}

/**
 * One ONNX graph loaded into onnxruntime's CPU execution provider, run synchronously.
 *
 * Session options: `intraOpNumThreads` = cores; worker threads do not spin between runs
 * (`session.intra_op.allow_spinning = 0`): with many small sessions called in turn, spinning pools starve
 * each other (measured: ~3 GFLOP/s instead of 100+).
 */
export class OrtSession {
  private readonly native: NativeSession;
  private readonly runOptions = {};

  constructor(model: Uint8Array, readonly label: string, threads = ortThreads()) {
    this.native = new (nativeBinding().InferenceSession)();
    try {
      this.native.loadModel(model.buffer as ArrayBuffer, model.byteOffset, model.byteLength, {
        intraOpNumThreads: threads,
        interOpNumThreads: 1,
        graphOptimizationLevel: 'all',
        executionMode: 'sequential',
        logSeverityLevel: 3,
        extra: { session: { intra_op: { allow_spinning: '0' } } },
      });
    } catch (e) {
      throw new Error(`onnxruntime could not load the ${label} graph: ${(e as Error).message}`);
    }
    ortStats.sessions++;
  }

  /**
   * Runs the graph. Each `outputs` entry is either a preallocated tensor (written in place; its dims must be
   * the output's) or null (the binding allocates and returns it).
   */
  run(inputs: Record<string, OrtTensorLike>, outputs: Record<string, OrtTensorLike | null>): Record<string, { data: TypedData; dims: number[] }> {
    ortStats.runs++;
    try {
      return this.native.run(inputs, outputs, this.runOptions);
    } catch (e) {
      const shapes = Object.entries(inputs).map(([k, t]) => `${k} ${t.type}[${t.dims.join(', ')}]`).join(', ');
      throw new Error(`onnxruntime ${this.label} failed on ${shapes}: ${(e as Error).message}`);
    }
  }

  dispose(): void {
    this.native.dispose();
  }
}
