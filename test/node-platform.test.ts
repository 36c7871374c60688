/**
 * Node's platform (node/platform.ts), installed by the entry point every CLI command and the server import:
 * local folders and files, onnxruntime-node, the memory budget (RAM, for the fit check before loading), and the
 * ffmpeg video decoder (which the CLI once lacked: a `video_clip` model given a video file said "install ffmpeg"
 * with ffmpeg installed).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import '../node/index.js';
import { MemorySource, resolveSource } from '../src/io/source.js';
import { defaultLoadBytes } from '../src/io/default-loader.js';
import { configurePlatform, type Platform } from '../src/platform.js';
import { FolderSource } from '../node/folder-source.js';
import { hasFfmpeg } from '../node/video-frames.js';
import { NODE_PLATFORM } from '../node/platform.js';
import { VideoClipModality } from '../src/modality/video/video-clip.js';
import { makeTinyClipVision } from '../src/tiny/tiny-clip.js';
import { skipMissingTool } from './helpers/missing-tool.js';

test('the Node entry installs every host hook: folders, local item bytes, onnxruntime-node, ffmpeg', async () => {
  assert.deepEqual(Object.keys(NODE_PLATFORM).sort(), ['loadBytes', 'localSource', 'memoryBudget', 'onnxSessionFactory', 'videoFrameDecoder']);
  for (const [k, v] of Object.entries(NODE_PLATFORM)) assert.equal(typeof v, 'function', `NODE_PLATFORM.${k}`);
  const dir = await mkdtemp(join(tmpdir(), 'platform-test-'));
  try {
    assert.ok(resolveSource(dir) instanceof FolderSource);
    await writeFile(join(dir, 'item.bin'), new Uint8Array([1, 2, 3]));
    assert.deepEqual([...(await defaultLoadBytes()!(join(dir, 'item.bin')))], [1, 2, 3]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('configurePlatform: null restores the isomorphic default, unknown fields are named', async () => {
  try {
    configurePlatform({ localSource: null, loadBytes: null });
    assert.throws(() => resolveSource('/some/folder'), /local paths need the Node entry point/);
    await assert.rejects(defaultLoadBytes()!('/no/such/file'), /fetch|URL|Invalid/i);
  } finally {
    configurePlatform(NODE_PLATFORM);
  }
  assert.throws(() => configurePlatform({ videoDecoder: null } as unknown as Partial<Platform>), /unknown field "videoDecoder"/);
  assert.throws(() => configurePlatform({ toString: null } as unknown as Partial<Platform>), /unknown field "toString"/);
});

test('a video_clip modality in Node decodes a video file with no decoder passed (the CLI path)', async (t) => {
  if (!(await hasFfmpeg())) return skipMissingTool(t, 'ffmpeg/ffprobe not on PATH (apt-get install ffmpeg to run this)');
  const dir = await mkdtemp(join(tmpdir(), 'platform-video-'));
  try {
    const file = join(dir, 'clip.mp4');
    const r = spawnSync('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'color=c=red:s=48x32:r=10:d=1', '-c:v', 'mpeg4', file]);
    assert.equal(r.status, 0, r.stderr?.toString());
    const v = await VideoClipModality.create({ encoder: new MemorySource(makeTinyClipVision({ seed: 7 })), numFrames: 2 });
    const pre = await v.preprocess([file]);
    assert.deepEqual(pre.framesPerVideo, [2]);
    v.dispose();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
