/**
 * What a test does when a tool it needs (Chromium, WebGPU, ffmpeg) is missing: skip and say why — or, in CI
 * (`MULTI_TOKEN_REQUIRE_ALL=1`, set by `.ci/run`), fail, so the suite cannot pass there by skipping.
 */
import type { TestContext } from 'node:test';

/** Whether every tool must be present (CI). */
export const REQUIRE_ALL = process.env.MULTI_TOKEN_REQUIRE_ALL === '1';

/** Skips `t` with `reason`, or throws when MULTI_TOKEN_REQUIRE_ALL=1. */
export function skipMissingTool(t: TestContext, reason: string): void {
  if (REQUIRE_ALL) throw new Error(`${reason} (MULTI_TOKEN_REQUIRE_ALL=1: a missing tool fails the test)`);
  t.skip(reason);
}

/**
 * For `test(name, { skip: missingTool(reason) }, …)`: the reason to skip when the tool is missing, else false.
 * Under MULTI_TOKEN_REQUIRE_ALL=1 it returns false, so the test runs and fails on the missing tool itself.
 */
export function missingTool(reason: string | false): string | false {
  return REQUIRE_ALL ? false : reason;
}
