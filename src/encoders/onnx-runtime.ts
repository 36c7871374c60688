/**
 * ONNX Runtime behind a small interface, so `src/` stays isomorphic: Node registers `onnxruntime-node`
 * (native CPU binaries, see `node/onnx-session.ts`); the browser falls back to `onnxruntime-web` (WASM/WebGPU),
 * the runtime transformers.js itself uses there. A page that already set up a runtime for transformers.js
 * (`globalThis[Symbol.for('onnxruntime')]`) gets the same one here.
 *
 * Why our own tensor type: each runtime package carries its own `Tensor` class (onnxruntime-node and -web
 * even pin different onnxruntime-common versions), so tensors must be made by the runtime that runs them.
 * Callers pass plain typed arrays; the adapter converts at the boundary.
 */

/** Element types the encoders feed and read. */
export type OnnxElementType = 'float32' | 'int64' | 'int32' | 'bool';

/** A tensor crossing the runtime boundary: row-major data plus dims. */
export interface OnnxTensor {
  type: OnnxElementType;
  data: Float32Array | BigInt64Array | Int32Array | Uint8Array;
  dims: readonly number[];
}

/** Shape of a graph input/output as the model declares it: numbers, symbolic names, or unknown (`[]`). */
export type OnnxShape = readonly (number | string)[];

/** A loaded ONNX model. */
export interface OnnxSession {
  /** The file it came from, for error messages. */
  readonly location: string;
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /** Declared shape of an input or output (empty when the runtime or model does not say). */
  shapeOf(name: string): OnnxShape;
  /** Runs the graph; returns only `outputs` (default: all). */
  run(feeds: Record<string, OnnxTensor>, outputs?: readonly string[]): Promise<Record<string, OnnxTensor>>;
  release(): Promise<void>;
}

/** Makes a session from the bytes of an `.onnx` file; `location` names the file in errors. */
export type OnnxSessionFactory = (model: Uint8Array, location: string) => Promise<OnnxSession>;

/** The parts of an onnxruntime module (`onnxruntime-node`, `onnxruntime-web`) the adapter uses. */
export interface OrtModule {
  Tensor: new (type: OnnxElementType, data: OnnxTensor['data'], dims: readonly number[]) => unknown;
  InferenceSession: { create(model: Uint8Array, options?: object): Promise<OrtSession> };
}

/** The parts of an onnxruntime `InferenceSession` the adapter uses. */
export interface OrtSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  readonly inputMetadata?: readonly { name: string; isTensor: boolean; shape?: OnnxShape }[];
  readonly outputMetadata?: readonly { name: string; isTensor: boolean; shape?: OnnxShape }[];
  run(feeds: Record<string, unknown>, fetches?: readonly string[]): Promise<Record<string, unknown>>;
  release(): Promise<void>;
}

/** Wraps an onnxruntime session (either runtime) in {@link OnnxSession}. */
export function wrapOrtSession(ort: OrtModule, session: OrtSession, location: string): OnnxSession {
  const meta = [...(session.inputMetadata ?? []), ...(session.outputMetadata ?? [])];
  return {
    location,
    inputNames: session.inputNames,
    outputNames: session.outputNames,
    shapeOf: (name) => meta.find((m) => m.name === name)?.shape ?? [],
    async run(feeds, outputs) {
      const ortFeeds: Record<string, unknown> = {};
      for (const [k, t] of Object.entries(feeds)) ortFeeds[k] = new ort.Tensor(t.type, t.data, t.dims);
      let result: Record<string, unknown>;
      try {
        result = await session.run(ortFeeds, outputs);
      } catch (e) {
        throw new Error(`ONNX model ${location} failed to run: ${(e as Error).message}`);
      }
      const out: Record<string, OnnxTensor> = {};
      for (const [k, v] of Object.entries(result)) {
        const t = v as { type: OnnxElementType; data: OnnxTensor['data']; dims: readonly number[] };
        out[k] = { type: t.type, data: t.data, dims: [...t.dims] };
      }
      return out;
    },
    release: () => session.release(),
  };
}

/** Makes a factory from an onnxruntime module. */
export function ortSessionFactory(ort: OrtModule, options: object = {}): OnnxSessionFactory {
  return async (model, location) => {
    let session: OrtSession;
    try {
      session = await ort.InferenceSession.create(model, options);
    } catch (e) {
      throw new Error(`could not load ONNX model ${location}: ${(e as Error).message}`);
    }
    return wrapOrtSession(ort, session, location);
  };
}

let factory: OnnxSessionFactory | null = null;

/**
 * Sets how sessions are made (Node: `node/onnx-session.ts`, through `configurePlatform`; tests may inject
 * fakes). `null` restores the default.
 */
export function setOnnxSessionFactory(f: OnnxSessionFactory | null): void {
  factory = f;
}

/**
 * Loads an ONNX model with the registered runtime, else the one transformers.js registered globally, else
 * `onnxruntime-web` (imported on first use so pages without ONNX encoders never download it).
 */
export async function createOnnxSession(model: Uint8Array, location: string): Promise<OnnxSession> {
  if (!factory) {
    const shared = (globalThis as Record<symbol, unknown>)[Symbol.for('onnxruntime')] as OrtModule | undefined;
    if (shared) {
      factory = ortSessionFactory(shared);
    } else {
      const web = (await import('onnxruntime-web')) as unknown as OrtModule;
      factory = ortSessionFactory(web);
    }
  }
  return factory(model, location);
}
