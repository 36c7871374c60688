/**
 * The room plan of src/modality/: the contract at the top, one folder per family, each family registering its
 * builders in its own register.ts (as a user's modality does), and nothing else.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';

const root = new URL('../src/modality/', import.meta.url);
const CONTRACT = ['encoder-location.ts', 'modality.ts', 'option-readers.ts', 'registry.ts'];
const FAMILIES = ['audio-whisper', 'document-gte', 'onnx', 'vector', 'video', 'vision-clip'];

test('src/modality/ holds only the contract and the family folders', () => {
  const entries = readdirSync(root, { withFileTypes: true });
  assert.deepEqual(entries.filter((e) => e.isFile()).map((e) => e.name).sort(), CONTRACT);
  assert.deepEqual(entries.filter((e) => e.isDirectory()).map((e) => e.name).sort(), FAMILIES);
});

test('each family registers itself in its own register.ts, and the loader imports every one', () => {
  const load = readFileSync(new URL('../src/lmm/load.ts', import.meta.url), 'utf8');
  for (const family of FAMILIES) {
    const register = readFileSync(new URL(`${family}/register.ts`, root), 'utf8');
    assert.match(register, /registerModalityBuilder\(/, `${family}/register.ts registers a builder`);
    assert.ok(load.includes(`import '../modality/${family}/register.js';`), `src/lmm/load.ts imports ${family}/register.js`);
  }
});
