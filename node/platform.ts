/**
 * Node's platform: local folders and Hugging Face ids as model sources, local paths as item bytes, ONNX on
 * onnxruntime-node, video frames with ffmpeg, and the memory budget a model load is checked against (MemAvailable /
 * cgroup limit). Importing this module installs it, once; every Node entry point (`node/index.ts`, and
 * through it the CLI and the server) imports it first.
 */
import { configurePlatform, type HostPlatform } from '../src/platform.js';
import { openSource } from './folder-source.js';
import { localLoader } from './media-local.js';
import { nodeOnnxSessionFactory } from './onnx-session.js';
import { ffmpegVideoFrames } from './video-frames.js';
import { nodeMemoryBudget } from './memory-budget.js';

/** Node's hooks (see `Platform` in src/platform.ts for what each one does). */
export const NODE_PLATFORM: HostPlatform = {
  // Folders, and Hugging Face ids (`org/name[@rev]`) through the shared hub cache.
  localSource: (p) => openSource(p),
  loadBytes: localLoader(),
  onnxSessionFactory: nodeOnnxSessionFactory(),
  videoFrameDecoder: ffmpegVideoFrames,
  memoryBudget: nodeMemoryBudget,
};

configurePlatform(NODE_PLATFORM);
