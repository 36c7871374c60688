/** Scratch folders for tests, made fresh under the OS temp dir and removed afterwards whatever the outcome. */
import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { CommandIO } from '../../node/commands/dataset.js';

/** Runs `fn` with a new folder named `mt-<prefix>-…`, removed when `fn` settles. */
export async function withTempDir(prefix: string, fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), `mt-${prefix}-`));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

// Each test file runs in its own process, so its scratch folders can go when that process exits (a run of the
// suite left about 90 behind before).
const made: string[] = [];
process.once('exit', () => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

/** A scratch folder under the OS temp dir, removed when this test process exits. */
export async function tmpDir(prefix = 'mt-'): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

/** A command's IO that keeps what it logs (`out`) and reports as errors (`err`). */
export function captureIO(): CommandIO & { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, log: (l) => out.push(l), error: (l) => err.push(l) };
}
