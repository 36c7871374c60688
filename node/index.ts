/**
 * The Node entry point (`multi-token/node`, and `multi-token` under Node): everything from the isomorphic
 * library, plus local folders as model sources, backend selection and atomic checkpoint writes.
 */
import { setLocalSourceFactory } from '../src/io/source.js';
import { openSource } from './folder-source.js';
import { useNodeOnnxRuntime } from './onnx-session.js';
import { setDefaultLoadBytes } from '../src/io/default-loader.js';
import { localLoader } from './media-local.js';
import { registerFfmpegVideoDecoder } from './video-frames.js';

// Folders, and Hugging Face ids (`org/name[@rev]`) through the shared hub cache.
setLocalSourceFactory((p) => openSource(p));
useNodeOnnxRuntime();
setDefaultLoadBytes(localLoader());
// Video files (.mp4, .webm, …) decode with the system's ffmpeg; without it, video items fail with "install ffmpeg".
registerFfmpegVideoDecoder();

export * from '../src/index.js';
export { FolderSource, openSource } from './folder-source.js';
export { selectNodeBackend } from './backend.js';
export { writeFileAtomic, writeDirAtomic } from './atomic-write.js';
export { localLoader } from './media-local.js';
