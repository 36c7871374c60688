/**
 * A response body that reports its bytes as they pass, so a large download shows progress rather than a frozen
 * page.
 */

/** `res`'s body, calling `onBytes(loaded, total)` per chunk; `total` is Content-Length (0 when not sent). */
export function countedBody(res: Response, onBytes: (loaded: number, total: number) => void): { body: ReadableStream<Uint8Array>; total: number } {
  if (!res.body) throw new Error(`${res.url}: the response has no body to count`);
  const total = Number(res.headers.get('content-length')) || 0;
  let loaded = 0;
  const body = res.body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, ctl) {
        loaded += chunk.byteLength;
        onBytes(loaded, total);
        ctl.enqueue(chunk);
      },
    }),
  );
  return { body, total };
}
