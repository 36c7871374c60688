import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mallocTrim } from '../node/glibc-malloc.js';
import { missingTool } from './helpers/missing-tool.js';

const glibc = process.platform === 'linux' && Boolean((process.report.getReport() as { header?: { glibcVersionRuntime?: string } }).header?.glibcVersionRuntime);

test("glibc's malloc_trim is reachable where glibc is (a no-op elsewhere)", { skip: missingTool(glibc ? false : 'no glibc here (musl, macOS, Windows): nothing to trim') }, () => {
  const trim = mallocTrim();
  assert.equal(typeof trim, 'function', 'koffi loads and finds malloc_trim');
  trim!();
});
