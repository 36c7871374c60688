/**
 * Media and JSON workers run at a lower priority than the thread that runs the model (node/thread-priority.ts),
 * so one client's large photo does not slow every other client's answer: on Linux each worker thread's nice value
 * is raised, and only theirs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { libc } from '../node/glibc.js';
import { MediaPool } from '../node/server/media-pool.js';

/** nice value of every thread of this process. */
function niceByThread(): Map<number, number> {
  const out = new Map<number, number>();
  for (const t of readdirSync('/proc/self/task')) {
    const fields = readFileSync(`/proc/self/task/${t}/stat`, 'utf8').split(') ')[1]!.split(' ');
    out.set(Number(t), Number(fields[16]));
  }
  return out;
}

test('the media pool\'s worker threads run at nice 10; the main thread keeps its priority', async () => {
  assert.ok(process.platform === 'linux' && libc(), 'this test runs where the server is deployed: Linux with glibc');
  const before = niceByThread();
  const pool = await MediaPool.start({ threads: 2 });
  try {
    const after = niceByThread();
    const raised = [...after].filter(([tid, n]) => !before.has(tid) && n === 10);
    assert.equal(raised.length, 2, `threads started by the pool at nice 10: ${JSON.stringify([...after])}`);
    assert.equal(after.get(process.pid), 0, 'the main thread');
  } finally {
    await pool.close();
  }
});
