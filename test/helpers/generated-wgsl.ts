/**
 * The WGSL kernels live in `kernels/*.wgsl` (readable, diffable) and are shipped as `kernels/*.wgsl.ts` string
 * modules (bundlers need no loader). This checks each module still equals its source; with `UPDATE_WGSL=1` it
 * rewrites the stale modules instead.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** `generated` maps a file under kernels/ to the string its `.wgsl.ts` module exports. */
export function checkGeneratedWgsl(generated: Record<string, string>): void {
  for (const [file, value] of Object.entries(generated)) {
    const path = fileURLToPath(new URL(`../../kernels/${file}`, import.meta.url));
    const source = readFileSync(path, 'utf8');
    if (source !== value && process.env.UPDATE_WGSL === '1') {
      const ts = readFileSync(`${path}.ts`, 'utf8');
      const start = ts.indexOf('export const ');
      const name = /export const (\w+)/.exec(ts)![1];
      writeFileSync(`${path}.ts`, `${ts.slice(0, start)}export const ${name} = ${JSON.stringify(source)};\n`);
      continue;
    }
    assert.equal(value, source, `kernels/${file} changed: rerun this test with UPDATE_WGSL=1 to regenerate ${file}.ts`);
  }
}
