/**
 * Video end to end: `.mp4` and `.webm` files that ffmpeg makes here train a `video_xclip` model through the CLI
 * (with `start_time`/`end_time` clips), the trained model answers `generate --videos clip.mp4`, and the server
 * answers `/generate` with a video; a corrupt file and a missing ffmpeg give errors that name the video.
 * Needs ffmpeg: without it the test is skipped with a message, or fails under MULTI_TOKEN_REQUIRE_ALL=1.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import '@tensorflow/tfjs-backend-wasm';
import { tf } from '../src/tf.js';
import { installKernelFallbacks } from '../src/backend-fallbacks.js';
import '../node/index.js';
import { hasFfmpeg } from '../node/video-frames.js';
import { writeDirAtomic } from '../node/atomic-write.js';
import { openSource } from '../node/folder-source.js';
import { loadLMM } from '../src/lmm/load.js';
import { createServer } from '../node/server/app.js';
import { makeTinyLMFiles } from '../src/tiny/tiny-lmm.js';
import { makeTinyXClip } from '../src/tiny/tiny-xclip.js';
import { XClipVideoModality } from '../src/modality/video/video-xclip.js';
import { runCli } from './helpers/seed-cli.js';
import { missingTool } from './helpers/missing-tool.js';

await tf.setBackend('wasm');
installKernelFallbacks('wasm');

const ffmpeg = await hasFfmpeg();
// Skipped without ffmpeg, except under MULTI_TOKEN_REQUIRE_ALL=1 (CI), where the tests run and fail.
const skip = missingTool(ffmpeg ? false : 'ffmpeg/ffprobe not on PATH (apt-get install ffmpeg to run this)');
let dir = '';

function makeVideo(file: string, args: string[]): void {
  const r = spawnSync('ffmpeg', ['-v', 'error', '-y', ...args, file]);
  assert.equal(r.status, 0, `ffmpeg: ${r.stderr?.toString()}`);
}

before(async () => {
  if (!ffmpeg) return;
  dir = await mkdtemp(path.join(tmpdir(), 'video-e2e-'));
  // 2 s: red then blue (mpeg4 in .mp4), and 1 s of green in .webm (VP8).
  makeVideo(path.join(dir, 'red-blue.mp4'), ['-f', 'lavfi', '-i', 'color=c=red:s=48x40:r=8:d=1', '-f', 'lavfi', '-i', 'color=c=blue:s=48x40:r=8:d=1',
    '-filter_complex', '[0][1]concat=n=2:v=1', '-c:v', 'mpeg4', '-q:v', '2']);
  makeVideo(path.join(dir, 'green.webm'), ['-f', 'lavfi', '-i', 'color=c=green:s=48x40:r=8:d=1', '-c:v', 'libvpx', '-b:v', '200k']);
  await writeFile(path.join(dir, 'corrupt.mp4'), new Uint8Array(4000).map((_, i) => (i * 31) % 256));
  await writeDirAtomic(path.join(dir, 'base'), await makeTinyLMFiles({ arch: 'llama', hiddenSize: 32, intermediateSize: 64, numHiddenLayers: 2, seed: 8 }));
  await writeDirAtomic(path.join(dir, 'xclip'), makeTinyXClip({ seed: 5 }));
  const q = 'What colour is <video>?';
  const rows = [
    { id: 'r', videos: [{ path: 'red-blue.mp4', start_time: 0, end_time: 1 }], messages: [{ role: 'user', content: q }, { role: 'assistant', content: 'Red.' }] },
    { id: 'b', videos: [{ path: 'red-blue.mp4', start_time: 1, end_time: 2 }], messages: [{ role: 'user', content: q }, { role: 'assistant', content: 'Blue.' }] },
    { id: 'g', videos: ['green.webm'], messages: [{ role: 'user', content: q }, { role: 'assistant', content: 'Green.' }] },
  ];
  await writeFile(path.join(dir, 'videos.jsonl'), rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
});
after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('an ffmpeg-made .mp4/.webm trains (video_xclip, clips with start/end), generates and is served', { skip }, async () => {
  assert.ok(ffmpeg, 'ffmpeg/ffprobe not on PATH: apt-get install ffmpeg (MULTI_TOKEN_REQUIRE_ALL=1: a missing tool fails the test)');
  const out = path.join(dir, 'out');
  const t = await runCli(['train', '--model_name_or_path', path.join(dir, 'base'), '--modality_builder', 'video_xclip',
    '--modality_options', JSON.stringify({ encoder: path.join(dir, 'xclip') }), '--dataset_path', path.join(dir, 'videos.jsonl'),
    '--output_dir', out, '--pretrain_projectors', '--max_steps', '2', '--per_device_train_batch_size', '3', '--learning_rate', '1e-3', '--no-progress'], {}).done;
  assert.equal(t.code, 0, t.log);
  assert.match(t.log, /training \(pretrain_projectors\): 3 rows, 2 steps/);

  // A projector-pretraining output holds projectors, not the LM: the base comes with it, as the seed's serve does.
  const g = await runCli(['generate', '--model', path.join(dir, 'base'), '--model_lora_path', out, '--prompt', 'What colour is <video>?', '--videos', path.join(dir, 'red-blue.mp4'), '--max_new_tokens', '3', '--json'], {}).done;
  assert.equal(g.code, 0, g.log);
  const answer = JSON.parse(g.stdout.trim().split('\n').pop()!) as { output_ids: number[]; output: string };
  assert.equal(answer.output_ids.length > 0, true);

  const lmm = await loadLMM(out, { base: path.join(dir, 'base'), open: openSource });
  assert.equal(lmm.modalities[0]!.name, 'video_xclip');
  const server = await createServer({ lmm, temperature: 0, maxNewTokens: 3, logger: false });
  const url = await server.listen({ host: '127.0.0.1', port: 0 });
  try {
    const post = async (videos: unknown[]) => {
      const res = await fetch(`${url}/generate`, { method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ messages: [{ role: 'user', content: 'What colour is <video>?' }], videos }) });
      return { status: res.status, json: (await res.json()) as { output?: string; error?: { message?: string } | string } };
    };
    const dataUrl = (bytes: Uint8Array, mime: string) => `data:${mime};base64,${Buffer.from(bytes).toString('base64')}`;
    const webm = await post([dataUrl(await readFile(path.join(dir, 'green.webm')), 'video/webm')]);
    assert.equal(webm.status, 200, JSON.stringify(webm.json));
    assert.equal(typeof webm.json.output, 'string');
    const clip = await post([{ url: dataUrl(await readFile(path.join(dir, 'red-blue.mp4')), 'video/mp4'), start_time: 1, end_time: 2 }]);
    assert.equal(clip.status, 200, JSON.stringify(clip.json));
    const bad = await post([dataUrl(await readFile(path.join(dir, 'corrupt.mp4')), 'video/mp4')]);
    assert.ok(bad.status >= 400 && bad.status < 500, `corrupt video: ${bad.status} ${JSON.stringify(bad.json)}`);
    assert.match(JSON.stringify(bad.json), /videos\[0\].*not a readable video/);
  } finally {
    await server.close();
    lmm.dispose();
  }
});

test('errors name the video: corrupt file, ffmpeg missing, YouTube pages, bad windows', { skip }, async () => {
  assert.ok(ffmpeg, 'ffmpeg/ffprobe not on PATH: apt-get install ffmpeg (MULTI_TOKEN_REQUIRE_ALL=1: a missing tool fails the test)');
  const m = await XClipVideoModality.create({ encoder: path.join(dir, 'xclip') }, { open: openSource });
  try {
    await assert.rejects(m.preprocess([path.join(dir, 'corrupt.mp4')], { rowId: 'c' }), /row "c": videos\[0\]: .*corrupt\.mp4 is not a readable video/);
    await assert.rejects(m.preprocess([{ path: path.join(dir, 'green.webm'), start_time: 5 }], { rowId: 'w' }), /start_time 5 s is past the end of the video/);
    await assert.rejects(m.preprocess([{ url: 'https://www.youtube.com/watch?v=x' }]), /YouTube page, not a video file/);
    await assert.rejects(m.preprocess([{ path: 'a.mp4', start_time: 3, end_time: 1 }]), /"end_time" \(1\) must be after "start_time" \(3\)/);
    const saved = process.env.PATH;
    process.env.PATH = '/nonexistent';
    try {
      await assert.rejects(m.preprocess([path.join(dir, 'green.webm')], { rowId: 'p' }), /row "p": videos\[0\]: cannot decode .*green\.webm: .*install ffmpeg/);
    } finally {
      process.env.PATH = saved;
    }
  } finally {
    m.dispose();
  }
});
