/**
 * URLs of the tfjs wasm binaries, for `selectBrowserBackend({ wasmPaths })`.
 *
 * Why this file exists: vite does not emit `tfjs-backend-wasm*.wasm` on its own (the backend fetches them by
 * name at run time, invisible to the bundler), so without these `?url` imports the wasm backend 404s and is
 * skipped (docs/backends.md). All three are listed because tfjs refuses a map that lacks one ("There were no
 * entries found for the following binaries"), although with threads off (our default) the threaded build is
 * never fetched.
 */
import type { WasmFileUrls } from '../../src/backend.js';
import wasmPlain from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import wasmSimd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import wasmThreadedSimd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';

/** File name → URL of each tfjs wasm binary this build ships. */
export const TFJS_WASM_PATHS: WasmFileUrls = {
  'tfjs-backend-wasm.wasm': wasmPlain,
  'tfjs-backend-wasm-simd.wasm': wasmSimd,
  'tfjs-backend-wasm-threaded-simd.wasm': wasmThreadedSimd,
};
