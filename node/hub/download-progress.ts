/**
 * One progress bar per downloaded file (bytes, rate, ETA) on stderr, like `huggingface_hub`'s tqdm bars. The hub
 * client takes a `fetch`; this wraps it and counts the body bytes of each file download (the GET without a
 * `Range: bytes=0-0` probe). Without a terminal it prints one line per file instead of redrawing a bar.
 */
import cliProgress from 'cli-progress';

function megabytes(n: number): string {
  return `${(n / 1e6).toFixed(n < 1e7 ? 2 : 0)} MB`;
}

/** A `fetch` that shows a bar for each file body it streams; `label(url)` names the file. */
export function progressFetch(label: (url: string) => string, base: typeof fetch = fetch, stream: NodeJS.WriteStream = process.stderr): typeof fetch {
  return async (input, init) => {
    const res = await base(input, init);
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const range = new Headers(init?.headers).get('Range');
    if (!/\/resolve\//.test(url) || range === 'bytes=0-0' || (init?.method ?? 'GET') !== 'GET' || !res.ok || !res.body) return res;
    const total = Number(res.headers.get('content-length') ?? 0);
    const name = label(url);
    const bar = stream.isTTY
      ? new cliProgress.SingleBar(
          { format: `${name} |{bar}| {percentage}% | {done} / {all} | {speed} | ETA {eta_formatted}`, hideCursor: true, stream, etaBuffer: 50 },
          cliProgress.Presets.shades_classic,
        )
      : null;
    const started = Date.now();
    let seen = 0;
    const fields = () => ({ done: megabytes(seen), all: total ? megabytes(total) : '?', speed: `${megabytes(seen / Math.max((Date.now() - started) / 1000, 1e-3))}/s` });
    if (bar) bar.start(total || 1, 0, fields());
    else stream.write(`[multi-token] downloading ${name}${total ? ` (${megabytes(total)})` : ''}\n`);
    const counter = new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, ctl) {
        seen += chunk.byteLength;
        bar?.update(total ? seen : 0, fields());
        ctl.enqueue(chunk);
      },
      flush() {
        bar?.update(total || 1, fields());
        bar?.stop();
      },
    });
    return new Response(res.body.pipeThrough(counter), { status: res.status, statusText: res.statusText, headers: res.headers });
  };
}
