/**
 * CI cannot pass by skipping: under MULTI_TOKEN_REQUIRE_ALL=1 (set by .ci/run) a test whose tool is missing
 * fails instead of skipping, and .ci/count-skipped finds every skipped test in a log, in both of node:test's
 * reporters.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function runFixture(env: Record<string, string>) {
  // Without NODE_TEST_CONTEXT, which would make the child report to this runner instead of printing its own TAP.
  const { NODE_TEST_CONTEXT: _, ...parent } = process.env;
  const r = spawnSync(process.execPath, ['--conditions=source', '--import', 'tsx', '--test', '--test-reporter=tap', 'test/fixtures/skips-for-missing-tool.ts'], {
    encoding: 'utf8',
    env: { ...parent, MULTI_TOKEN_REQUIRE_ALL: '', ...env },
  });
  return { status: r.status, out: r.stdout + r.stderr };
}

async function countSkipped(log: string): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), 'ci-strict-'));
  try {
    await writeFile(join(dir, 'log'), log);
    const r = spawnSync('.ci/count-skipped', [join(dir, 'log')], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return Number(r.stdout.trim());
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('without MULTI_TOKEN_REQUIRE_ALL a missing tool skips, and the skips are counted', async () => {
  const { status, out } = runFixture({});
  assert.equal(status, 0, out);
  assert.match(out, /# SKIP frobnicator missing/);
  assert.equal(await countSkipped(out), 2);
});

test('with MULTI_TOKEN_REQUIRE_ALL=1 a missing tool fails the test, naming the tool', async () => {
  const { status, out } = runFixture({ MULTI_TOKEN_REQUIRE_ALL: '1' });
  assert.notEqual(status, 0, out);
  assert.match(out, /frobnicator missing: apt-get install frobnicator \(MULTI_TOKEN_REQUIRE_ALL=1: a missing tool fails the test\)/);
  assert.match(out, /widget missing, so this fails when it runs/);
  assert.match(out, /# fail 2/);
  assert.equal(await countSkipped(out), 0);
});

test('.ci/count-skipped sums the summaries of both reporters across runs (unit + e2e)', async () => {
  assert.equal(await countSkipped('# tests 5\n# skipped 2\n# todo 0\nℹ tests 8\nℹ skipped 1\nok 3 - a skipped thing # SKIP\n'), 3);
  assert.equal(await countSkipped('# skipped 0\nℹ skipped 0\n'), 0);
});
