/** A scratch folder for one test: made fresh under the OS temp dir, removed afterwards whatever the outcome. */
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

/** A command's IO that keeps what it logs (`out`) and reports as errors (`err`). */
export function captureIO(): CommandIO & { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, log: (l) => out.push(l), error: (l) => err.push(l) };
}
