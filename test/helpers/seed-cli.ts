/**
 * Running the `multi-token` CLI as a user would (a child process), with the hub environment of a test: a mock hub
 * as `HF_ENDPOINT`, a private `HF_HOME`, and no token unless given.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { PNG } from 'pngjs';

const cli = path.resolve('bin/multi-token.js');

export interface CliRun {
  child: ChildProcess;
  log: () => string;
  done: Promise<{ code: number | null; log: string; stdout: string }>;
}

/** Starts `multi-token ...args` with `env` added to a copy of this process's environment (HF_* removed first). */
export function runCli(args: string[], env: Record<string, string | undefined>): CliRun {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('HF_') && k !== 'HUGGING_FACE_HUB_TOKEN'));
  const child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...base, ...env } });
  let log = '';
  let stdout = '';
  child.stderr!.on('data', (d) => (log += d));
  child.stdout!.on('data', (d) => (stdout += d));
  const done = new Promise<{ code: number | null; log: string; stdout: string }>((r) => child.on('exit', (code) => r({ code, log, stdout })));
  return { child, log: () => log, done };
}

/** Waits until the CLI's stderr matches `re` (e.g. the server's "serving … at URL" line); returns the match. */
export async function waitForLog(run: CliRun, re: RegExp, timeoutMs = 120_000): Promise<RegExpMatchArray> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const m = run.log().match(re);
    if (m) return m;
    if (run.child.exitCode !== null || Date.now() > deadline) throw new Error(`never saw ${re} (exit ${run.child.exitCode}):\n${run.log()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A w×h PNG of one colour with a gradient (distinct pictures give distinct features). */
export function colourPng(rgb: [number, number, number], w = 16, h = 16): Uint8Array {
  const png = new PNG({ width: w, height: h });
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) png.data.set([(rgb[0] + x * 8) % 256, (rgb[1] + y * 8) % 256, rgb[2], 255], (y * w + x) * 4);
  return new Uint8Array(PNG.sync.write(png));
}
