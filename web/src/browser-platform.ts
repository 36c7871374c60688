/**
 * A page's platform (see `Platform` in src/platform.ts): no local folders (relative paths are URLs relative to
 * the page), items by `fetch`, ONNX on onnxruntime-web (its wasm shipped with the build, see ort-wasm.ts), video
 * frames from a `<video>` element. `initBrowserBackend` installs it.
 */
import type { HostPlatform } from '../../src/platform.js';
import { browserVideoFrames } from '../../src/media/video-frames-browser.js';

/** The browser's hooks; `null` keeps src/'s isomorphic default, which is the browser behaviour already. */
export const BROWSER_PLATFORM: HostPlatform = {
  localSource: null,
  loadBytes: null,
  onnxSessionFactory: null,
  videoFrameDecoder: browserVideoFrames,
  // A page cannot know how much memory it may use before the browser refuses an allocation: no fit check.
  memoryBudget: null,
};
