#!/usr/bin/env node
// Runs the compiled CLI when the package is built (npm install from the registry), else the TypeScript
// sources through tsx (a git checkout).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const built = new URL('../dist/node/cli.js', import.meta.url);
if (existsSync(fileURLToPath(built))) {
  await import(built.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import(new URL('../node/cli.ts', import.meta.url).href);
}
