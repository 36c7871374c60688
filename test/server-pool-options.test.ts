/**
 * The server's worker pools let an idle worker run its timers (node/server/pool-options.ts): the media and JSON
 * workers collect their heaps on a timer after their last task, which piscina's default parks before it can fire.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Piscina } from 'piscina';
import { POOL_OPTIONS } from '../node/server/pool-options.js';

async function timerFiredWhileIdle(options: Record<string, unknown>): Promise<boolean> {
  const counter = new SharedArrayBuffer(4);
  const pool = new Piscina({ filename: new URL('./fixtures/idle-timer-worker.mjs', import.meta.url).href, minThreads: 1, maxThreads: 1, workerData: { counter }, ...options });
  try {
    await pool.run(null);
    await new Promise((r) => setTimeout(r, 400));
    return Atomics.load(new Int32Array(counter), 0) > 0;
  } finally {
    await pool.close();
  }
}

test('an idle worker in the server\'s pools runs its timers (piscina\'s default parks it before they fire)', async () => {
  assert.equal(await timerFiredWhileIdle({ ...POOL_OPTIONS }), true, 'with the server\'s options');
  assert.equal(await timerFiredWhileIdle({ atomics: 'sync' }), false, 'piscina\'s default: the reason for the option');
});
