/**
 * ONNX encoders in Node run on `onnxruntime-node`: the native CPU build that transformers.js ships (its binaries
 * are bundled in the package, nothing is downloaded). Importing this module registers it for
 * `createOnnxSession` in `src/encoders/onnx-runtime.ts`; without it, `src/` would fall back to the slower
 * onnxruntime-web WASM build.
 */
import * as ort from 'onnxruntime-node';
import { ortSessionFactory, setOnnxSessionFactory, type OrtModule } from '../src/encoders/onnx-runtime.js';

/** Makes `createOnnxSession` use onnxruntime-node. Idempotent; called on import. */
export function useNodeOnnxRuntime(): void {
  // Warnings only: ORT's default 'warning' level also prints per-session informational noise on some builds.
  setOnnxSessionFactory(ortSessionFactory(ort as unknown as OrtModule, { logSeverityLevel: 3 }));
}

useNodeOnnxRuntime();
