/**
 * The worker side of json-body.ts: parses a large request body off the thread that serves every client, with the
 * same prototype-poisoning refusal fastify applies.
 */
import sjson from 'secure-json-parse';

/** Parses UTF-8 JSON; throws SyntaxError (malformed) or Error (a `__proto__` / `constructor.prototype` key). */
export default function parse(bytes: Uint8Array): unknown {
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
  return sjson.parse(text, undefined, { protoAction: 'error', constructorAction: 'error' });
}
