/**
 * The worker side of json-body.ts: parses a large request body off the thread that serves every client, with the
 * same prototype-poisoning refusal fastify applies.
 */
import sjson from 'secure-json-parse';
import { releaseWhenIdle } from './memory-release.js';
import { lowerThreadPriority } from '../thread-priority.js';

// A parsed body (a 23 MB photo data URL, a 10 MB text) is garbage here once it is sent to the main thread, and V8
// collects a heap only when it allocates again: without this an idle server kept the last burst's bodies (measured
// as part of the 1.3× idle RSS 35 s after a burst, bench/RESULTS.md "Hostile clients").
const touched = releaseWhenIdle(500);
// Media preparation yields the cores to the model's threads (see thread-priority.ts); `MULTI_TOKEN_WORKER_NICE=0` turns it off.
lowerThreadPriority(Number(process.env.MULTI_TOKEN_WORKER_NICE ?? 10));

/** Parses UTF-8 JSON; throws SyntaxError (malformed) or Error (a `__proto__` / `constructor.prototype` key). */
export default function parse(bytes: Uint8Array): unknown {
  touched();
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
  return sjson.parse(text, undefined, { protoAction: 'error', constructorAction: 'error' });
}
