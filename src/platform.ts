/**
 * The one place where the host plugs into the isomorphic library: what `src/` cannot do by itself (read local
 * folders and files, run ONNX natively, decode video files) and the backend's fast paths. Node's is
 * `node/platform.ts` (imported by every Node entry point), a page's is `web/src/browser-platform.ts` (installed
 * by `initBrowserBackend`); WebGPU's kernels install `fastMerge` when that backend starts
 * (`kernels/register.ts`).
 *
 * Why setters behind one function rather than a platform object the modules read: each hook's module keeps
 * its own state and its default (fetch, onnxruntime-web, a `<video>` element where there is a document), so
 * nothing in `src/` depends on this file and no import cycle can form through it.
 */
import { setLocalSourceFactory, type LocalSourceFactory } from './io/source.js';
import { DEFAULT_LOAD_BYTES, setDefaultLoadBytes, type LoadBytes } from './io/default-loader.js';
import { setOnnxSessionFactory, type OnnxSessionFactory } from './encoders/onnx-runtime.js';
import { setVideoFrameDecoder, type VideoFrameDecoder } from './media/video-frames.js';
import { setFastMerge, type MergeImpl } from './splice/splice.js';
import { setMemoryBudgetProvider, type MemoryBudget } from './lm/memory-plan.js';
import { setFrozenWeightPlacer, type FrozenWeightPlacer } from './nn/frozen-weight.js';

/** Everything a host or backend can plug in. `null` restores the isomorphic default. */
export interface Platform {
  /** Opens a local path as a model source. Default: none (paths are page-relative URLs in a browser, else an error). */
  localSource: LocalSourceFactory | null;
  /** Reads an item given by reference when preprocessing is given no `loadBytes`. Default: `fetch` (URLs, data URLs). */
  loadBytes: LoadBytes | null;
  /** Makes ONNX sessions. Default: the runtime transformers.js registered, else onnxruntime-web (loaded on first use). */
  onnxSessionFactory: OnnxSessionFactory | null;
  /** Samples frames from a video file. Default: a `<video>` element where there is a document, else an "install ffmpeg" error. */
  videoFrameDecoder: VideoFrameDecoder | null;
  /** A faster `mergeEmbeddings` for the current backend (WebGPU's kernel). Default: the tfjs-op reference. */
  fastMerge: MergeImpl | null;
  /**
   * How much memory a model may take, checked before loading (src/lm/memory-plan.ts). Default: none (no check).
   * Node reports MemAvailable / the cgroup limit, and the wasm heap for what tfjs holds.
   */
  memoryBudget: (() => MemoryBudget | null) | null;
  /**
   * Where frozen Linear weights live and how they multiply (src/nn/frozen-weight.ts): the Node engine's
   * onnxruntime placer (f32/f16/int8/int4 outside tfjs memory), WGSL kernels on WebGPU. Default: none
   * (ordinary float32 tfjs tensors; quantized checkpoints are widened at load).
   */
  frozenWeights: FrozenWeightPlacer | null;
}

/**
 * What a host supplies: every field but the backend's `fastMerge` and `frozenWeights`, all of them required, so a
 * host cannot forget one (the Node CLI once shipped without its video decoder that way).
 */
export type HostPlatform = Omit<Platform, 'fastMerge' | 'frozenWeights'>;

const installers: { [K in keyof Platform]: (value: Platform[K]) => void } = {
  localSource: setLocalSourceFactory,
  loadBytes: (f) => setDefaultLoadBytes(f ?? DEFAULT_LOAD_BYTES),
  onnxSessionFactory: setOnnxSessionFactory,
  videoFrameDecoder: setVideoFrameDecoder,
  fastMerge: setFastMerge,
  memoryBudget: setMemoryBudgetProvider,
  frozenWeights: setFrozenWeightPlacer,
};

/** Installs the given hooks; fields left out keep their current value. */
export function configurePlatform(config: Partial<Platform>): void {
  for (const key of Object.keys(config) as (keyof Platform)[]) {
    const install = Object.hasOwn(installers, key) ? (installers[key] as (value: unknown) => void) : undefined;
    if (!install) throw new Error(`configurePlatform: unknown field "${key}" (known: ${Object.keys(installers).join(', ')})`);
    install(config[key] ?? null);
  }
}
