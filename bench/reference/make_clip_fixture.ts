/**
 * Regenerates `test/fixtures/clip-vision-ref.json`: two generated PNG images, their 8-bit CLIP crops (Pillow
 * resize + crop, one with pad-to-square) and the tiny CLIP vision model's `last_hidden_state`, pooled output and
 * `hidden_states[-2]` on them, from the independent PyTorch/Pillow reference `bench/reference/clip_vision_ref.py`.
 *
 *   npx tsx bench/reference/make_clip_fixture.ts       # needs python3 with torch, numpy, PIL
 *   PYTHON=/usr/bin/python3 npx tsx bench/reference/make_clip_fixture.ts
 *
 * Weights are not stored: `makeTinyClipVision(options)` is deterministic; the fixture keeps the options and the
 * SHA-256 of `model.safetensors`, so the test can tell "weights changed, regenerate" from "outputs are wrong".
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeTinyClipVision, type TinyClipVisionOptions } from '../../src/tiny/tiny-clip.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const OUT = join(root, 'test/fixtures/clip-vision-ref.json');
const REF = join(here, 'clip_vision_ref.py');
/** 32×32 images, 8×8 patches (16 + CLS tokens), 2 layers of 2 heads: the `make-tiny --arch clip-vision` default. */
const OPTIONS: TinyClipVisionOptions = { seed: 7 };

function findPython(): string {
  const candidates = [process.env.PYTHON, 'python3', '/usr/bin/python3'].filter((x): x is string => !!x);
  for (const py of candidates) {
    if (spawnSync(py, ['-c', 'import torch, numpy, PIL'], { stdio: 'ignore' }).status === 0) return py;
  }
  throw new Error(`no python with torch + numpy + PIL found (tried ${candidates.join(', ')}); set PYTHON`);
}

const sig7 = (x: unknown): unknown => (Array.isArray(x) ? x.map(sig7) : typeof x === 'number' ? Number(x.toPrecision(7)) : x);

const py = findPython();
const tmp = mkdtempSync(join(tmpdir(), 'clip-ref-'));
try {
  const files = makeTinyClipVision(OPTIONS);
  for (const [name, bytes] of files) writeFileSync(join(tmp, name), bytes);
  const res = spawnSync(py, [REF, tmp, join(tmp, 'out.json')], { encoding: 'utf8' });
  if (res.status !== 0) throw new Error(`${REF} failed:\n${res.stderr}`);
  const out = JSON.parse(readFileSync(join(tmp, 'out.json'), 'utf8')) as Record<string, unknown>;
  const fixture = {
    generator: 'bench/reference/make_clip_fixture.ts + clip_vision_ref.py (torch, Pillow; no transformers)',
    options: OPTIONS,
    modelSha256: createHash('sha256').update(files.get('model.safetensors')!).digest('hex'),
    ...out,
    last_hidden_state: sig7(out.last_hidden_state),
    pooled: sig7(out.pooled),
    hidden_state_minus_2: sig7(out.hidden_state_minus_2),
  };
  writeFileSync(OUT, JSON.stringify(fixture) + '\n');
  console.log(`wrote ${OUT} (${JSON.stringify(fixture).length} bytes)`);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
