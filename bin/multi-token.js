#!/usr/bin/env node
// In a git checkout (node/cli.ts present) run the TypeScript sources through tsx, so a stale `dist/` never
// hides a change; an installed package (no sources) runs the compiled CLI.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const source = new URL('../node/cli.ts', import.meta.url);
const built = new URL('../dist/node/cli.js', import.meta.url);
let useSource = existsSync(fileURLToPath(source));
if (useSource) {
  try {
    const { register } = await import('tsx/esm/api');
    register();
  } catch {
    useSource = false; // tsx is a dev dependency; fall back to the build
  }
}
await import((useSource ? source : built).href);
