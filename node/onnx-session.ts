/**
 * ONNX encoders in Node run on `onnxruntime-node`: the native CPU build that transformers.js ships (its binaries
 * are bundled in the package, nothing is downloaded). `node/platform.ts` installs this factory for
 * `createOnnxSession` in `src/encoders/onnx-runtime.ts`; without it, `src/` would fall back to the slower
 * onnxruntime-web WASM build.
 */
import * as ort from 'onnxruntime-node';
import { ortSessionFactory, type OnnxSessionFactory, type OrtModule } from '../src/encoders/onnx-runtime.js';

/** ONNX sessions on onnxruntime-node. */
export function nodeOnnxSessionFactory(): OnnxSessionFactory {
  // Warnings only: ORT's default 'warning' level also prints per-session informational noise on some builds.
  return ortSessionFactory(ort as unknown as OrtModule, { logSeverityLevel: 3 });
}
