/**
 * Entry of the browser bundle `dist/browser/multi-token.js`: the whole isomorphic library (`src/index.ts`),
 * plus what a plain `<script type="module">` page needs and cannot get from a bundler of its own:
 *
 * - {@link initBrowserBackend}: backend selection with the tfjs wasm binaries shipped next to the bundle, the
 *   kernel fallbacks, and the WGSL kernels on WebGPU — call it once before loading a model;
 * - {@link PickedFolderSource}: load a model from a folder the user picks;
 * - {@link CachedSource} and friends: keep a model in Cache Storage.
 */
export * from '../../src/index.js';
export { initBrowserBackend, PAGE_BACKEND_ORDER, type BackendSetup, type InitBackendOptions } from '../src/backend-setup.js';
export { TFJS_WASM_PATHS } from '../src/wasm-paths.js';
export { ORT_WASM_PATHS, useOrtWasm, type OrtWasmPaths } from '../src/ort-wasm.js';
export { PickedFolderSource, directoryPicker } from '../src/file-source.js';
export { CachedSource, clearModelCache, listCachedModels, urlCacheKey, pickedCacheKey } from '../src/model-cache.js';
export { webAudioDecoder } from '../../src/media/audio-input-browser.js';
export { encodeWav } from '../src/wav.js';
