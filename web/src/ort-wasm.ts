/**
 * Where onnxruntime-web fetches its wasm runtime, shipped with the build.
 *
 * Why this is needed although the models run on tfjs: transformers.js 4 computes some preprocessing through
 * tiny ONNX graphs (the Whisper log-mel filter bank is a matmul run by onnxruntime), and ONNX-encoder
 * modalities (audio_clap, imagebind, `onnx`) run on it. Left alone, transformers.js points onnxruntime at
 * jsDelivr, so an audio model would need the internet. vite.config.ts resolves every onnxruntime-web import to
 * its CPU-only `wasm` build (one 14 MB binary rather than the 27 MB WebGPU one); these `?url` imports make vite
 * emit that binary and its loader as plain files, fetched only when something runs an ONNX graph.
 */
import { env } from 'onnxruntime-web/wasm';
import ortLoader from 'onnxruntime-web/ort-wasm-simd-threaded.mjs?url';
import ortBinary from 'onnxruntime-web/ort-wasm-simd-threaded.wasm?url';

/** The loader script and binary of onnxruntime-web's CPU build, as shipped with this bundle. */
export const ORT_WASM_PATHS = { mjs: ortLoader, wasm: ortBinary };

/** What `env.wasm.wasmPaths` accepts: a folder URL ending in `/`, or the two files. */
export type OrtWasmPaths = string | { mjs: string; wasm: string };

/**
 * Points onnxruntime-web (the instance transformers.js and the ONNX encoders share) at `paths`, by default the
 * files shipped with this build. Call before loading a model; sessions already created keep their runtime.
 */
export function useOrtWasm(paths: OrtWasmPaths = ORT_WASM_PATHS): void {
  env.wasm.wasmPaths = paths;
}
