/**
 * Regenerates `test/fixtures/xclip-video-ref.json`: two generated 4-frame videos (8-bit frames), their X-CLIP pixel
 * values (VideoMAE preprocessing with Pillow) and the tiny X-CLIP model's video features and `video_embeds`, from
 * the independent PyTorch reference `bench/reference/xclip_video_ref.py`.
 *
 *   npx tsx bench/reference/make_xclip_fixture.ts       # needs python3 with torch, numpy, PIL
 *
 * Weights are not stored: `makeTinyXClip(options)` is deterministic; the fixture keeps the options and the SHA-256
 * of `model.safetensors`, so the test can tell "weights changed, regenerate" from "outputs are wrong".
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeTinyXClip, type TinyXClipOptions } from '../../src/tiny/tiny-xclip.js';

const here = dirname(fileURLToPath(import.meta.url));
const OUT = join(resolve(here, '../..'), 'test/fixtures/xclip-video-ref.json');
const REF = join(here, 'xclip_video_ref.py');
/** 32×32 frames, 8×8 patches, 2 layers, 4 frames per video, 16-d video embeddings, a 1-layer MIT. */
const OPTIONS: TinyXClipOptions = { seed: 21 };

const py = process.env.PYTHON ?? '/usr/bin/python3';
const sig7 = (x: unknown): unknown => (Array.isArray(x) ? x.map(sig7) : typeof x === 'number' ? Number(x.toPrecision(7)) : x);
const tmp = mkdtempSync(join(tmpdir(), 'xclip-ref-'));
try {
  const files = makeTinyXClip(OPTIONS);
  for (const [name, bytes] of files) writeFileSync(join(tmp, name), bytes);
  const res = spawnSync(py, [REF, tmp, join(tmp, 'out.json')], { encoding: 'utf8' });
  if (res.status !== 0) throw new Error(`${REF} failed:\n${res.stderr}`);
  const out = JSON.parse(readFileSync(join(tmp, 'out.json'), 'utf8')) as Record<string, unknown>;
  const fixture = {
    generator: 'bench/reference/make_xclip_fixture.ts + xclip_video_ref.py (torch float64, Pillow; no transformers)',
    options: OPTIONS,
    modelSha256: createHash('sha256').update(files.get('model.safetensors')!).digest('hex'),
    ...out,
    video_features: sig7(out.video_features),
    video_embeds: sig7(out.video_embeds),
  };
  writeFileSync(OUT, JSON.stringify(fixture) + '\n');
  console.log(`wrote ${OUT} (${JSON.stringify(fixture).length} bytes)`);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
