import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fixMallocThresholds, mallocTrim } from '../node/glibc-malloc.js';
import { missingTool } from './helpers/missing-tool.js';

const glibc = process.platform === 'linux' && Boolean((process.report.getReport() as { header?: { glibcVersionRuntime?: string } }).header?.glibcVersionRuntime);

test("glibc's malloc_trim and mallopt are reachable where glibc is (no-ops elsewhere)", { skip: missingTool(glibc ? false : 'no glibc here (musl, macOS, Windows): nothing to trim') }, () => {
  const trim = mallocTrim();
  assert.equal(typeof trim, 'function', 'koffi loads and finds malloc_trim');
  trim!();
  // The user's own settings stand: nothing is changed when they set a threshold.
  assert.equal(fixMallocThresholds({ MALLOC_MMAP_THRESHOLD_: '65536' }), false);
  assert.equal(fixMallocThresholds({ GLIBC_TUNABLES: 'glibc.malloc.trim_threshold=65536' }), false);
  assert.equal(fixMallocThresholds({}), true);
});
