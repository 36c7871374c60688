/**
 * The Node entry point (`multi-token/node`, and `multi-token` under Node): everything from the isomorphic
 * library with Node's platform installed (local folders and files, onnxruntime-node, ffmpeg video frames), plus
 * backend selection and atomic checkpoint writes.
 */
import './platform.js';

export * from '../src/index.js';
export { FolderSource, openSource } from './folder-source.js';
export { selectNodeBackend } from './backend.js';
export { writeFileAtomic, writeDirAtomic } from './atomic-write.js';
export { localLoader } from './media-local.js';
