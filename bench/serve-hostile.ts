/**
 * Hostile-client benchmark: starts `multi-token serve --model_name_or_path models/demo` as its own process and,
 * for each hostile request (issue #18's cases: huge-but-tiny PNGs and SVGs, many large images, long messages,
 * slow clients, malformed HTTP), measures while it is in flight
 * - the hostile request's own status and time to answer,
 * - `/health` latency (pinged every 25 ms; p99 and max),
 * - a normal request's latency (one picture, 8 tokens, greedy) against its idle value (median of 5) measured in the
 *   same run; each case runs `--repeat` rounds (slow clients once) and the ratio is the median of its rounds,
 * - the server's RSS (sampled from /proc every 20 ms; peak over the whole set),
 * then a burst of large-but-allowed requests and whether RSS comes back to within 20% of its idle level.
 *
 *   npx tsx bench/serve-hostile.ts [--model models/demo] [--only NAME,NAME] [--repeat 3] [--smaps-dir DIR] [-- extra serve flags]
 *
 * Prints one JSON line. Goals (issue #18): /health p99 ≤ 250 ms and normal latency ≤ 2× idle while any hostile
 * request is in flight, each hostile case answered within 2 s, RSS peak ≤ 1.5 GB, no 5xx.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import { PNG } from 'pngjs';

const argv = process.argv.slice(2);
const dashdash = argv.indexOf('--');
const own = dashdash >= 0 ? argv.slice(0, dashdash) : argv;
const extra = dashdash >= 0 ? argv.slice(dashdash + 1) : [];
const arg = (name: string, def: string) => {
  const i = own.indexOf(`--${name}`);
  return i >= 0 ? own[i + 1]! : def;
};
const modelDir = arg('model', 'models/demo');
const only = arg('only', '') ? new Set(arg('only', '').split(',')) : null;
/** Rounds per case (hostile request + a normal one 30 ms later); the normal ratio is their median. */
const REPEAT = Math.max(1, Number(arg('repeat', '3')));
/** Where to copy the server's whole /proc/PID/smaps at idle, after the burst and 35 s later (for a diff). */
const SMAPS_DIR = arg('smaps-dir', '');

// ---------------------------------------------------------------------------------------------------------
// The server process and its memory.

interface Server { proc: ChildProcess; url: string; pid: number }

async function startServer(): Promise<Server> {
  const proc = spawn(process.execPath, ['bin/multi-token.js', 'serve', '--model_name_or_path', modelDir, '--port', '0', '--log_requests', 'false', ...extra], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  const url = await new Promise<string>((resolve, reject) => {
    proc.stderr!.on('data', (d: Buffer) => {
      log += d.toString();
      const m = / at (http:\/\/[^\s]+) /.exec(log);
      if (m) resolve(m[1]!);
    });
    proc.once('exit', (code) => reject(new Error(`server exited (${code}): ${log}`)));
  });
  proc.stderr!.on('data', (d: Buffer) => {
    // 5xx are logged with their stack whatever --log_requests says; keep them visible.
    if (/"level":50|Error/.test(d.toString())) serverErrors.push(d.toString().slice(0, 500));
  });
  return { proc, url, pid: proc.pid! };
}
const serverErrors: string[] = [];

function rssMB(pid: number): number {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(s)![1]) / 1024;
}

/**
 * Where the server's resident memory is, in MB, from /proc/PID/smaps: glibc's main arena (`[heap]`), glibc's
 * thread arenas (anonymous mappings starting on a 64 MiB boundary, glibc's HEAP_MAX_SIZE alignment), other
 * anonymous memory (V8 and wasm heaps, large malloc blocks glibc mmaps on their own, thread stacks) and files.
 */
function smapsMB(pid: number, label = ''): Record<string, number> {
  if (SMAPS_DIR && label) writeFileSync(`${SMAPS_DIR}/smaps-${label}.txt`, readFileSync(`/proc/${pid}/smaps`, 'utf8'));
  const out = { main_arena: 0, thread_arenas: 0, other_anon: 0, files: 0 };
  let kind: keyof typeof out = 'other_anon';
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const head = /^([0-9a-f]+)-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      const name = head[2]!;
      kind = name === '[heap]' ? 'main_arena' : name.startsWith('/') ? 'files' : !name && BigInt(`0x${head[1]}`) % 0x4000000n === 0n ? 'thread_arenas' : 'other_anon';
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss) out[kind] += Number(rss[1]) / 1024;
  }
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, Math.round(v)]));
}

// ---------------------------------------------------------------------------------------------------------
// Inputs.

function png(w: number, h: number, fill: (x: number, y: number) => [number, number, number] = () => [200, 30, 30]): Buffer {
  const p = new PNG({ width: w, height: h });
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) p.data.set([...fill(x, y), 255], (y * w + x) * 4);
  return PNG.sync.write(p, { deflateLevel: 9 });
}
const dataUrl = (mime: string, b: Uint8Array | string) => `data:${mime};base64,${Buffer.from(b).toString('base64')}`;
const redCircle = dataUrl('image/png', readFileSync('examples/red-circle.png'));
const svg = (w: number, h: number) => `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}"><rect width="100%" height="100%" fill="red"/></svg>`;

const chat = (content: unknown, extraBody: Record<string, unknown> = {}) => JSON.stringify({ messages: [{ role: 'user', content }], max_tokens: 8, temperature: 0, ...extraBody });
const imageParts = (urls: string[], text = 'What colour is the shape?') => [{ type: 'text', text }, ...urls.map((url) => ({ type: 'image_url', image_url: { url } }))];
const normalBody = chat(imageParts([redCircle]));

// ---------------------------------------------------------------------------------------------------------
// Measuring.

interface Answer { status: number; ms: number; body: string }

async function post(url: string, path: string, body: string): Promise<Answer> {
  const t0 = performance.now();
  try {
    const r = await fetch(url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    const text = await r.text();
    return { status: r.status, ms: performance.now() - t0, body: text.slice(0, 300) };
  } catch (e) {
    return { status: -1, ms: performance.now() - t0, body: String((e as Error).cause ?? e).slice(0, 300) };
  }
}

/**
 * A raw TCP exchange: writes `chunks` (with `delayMs` between them, until the server answers); resolves with the
 * reply, when it began to arrive and when the server closed.
 */
function rawExchange(url: string, chunks: string[], delayMs: number, capMs: number): Promise<{ reply: string; answeredAfterMs: number; closedAfterMs: number; status: number }> {
  const u = new URL(url);
  return new Promise((resolve) => {
    const t0 = performance.now();
    const sock = net.connect(Number(u.port), u.hostname);
    let reply = '';
    let answeredAfterMs = NaN;
    let i = 0;
    let timer: NodeJS.Timeout | null = null;
    const done = () => {
      if (timer) clearTimeout(timer);
      clearTimeout(cap);
      sock.destroy();
      const status = Number(/^HTTP\/1\.1 (\d+)/.exec(reply)?.[1] ?? -1);
      const closedAfterMs = performance.now() - t0;
      resolve({ reply: reply.slice(0, 400), answeredAfterMs: Number.isNaN(answeredAfterMs) ? closedAfterMs : answeredAfterMs, closedAfterMs, status });
    };
    const cap = setTimeout(done, capMs);
    const next = () => {
      if (i < chunks.length && !sock.destroyed && !reply) {
        sock.write(chunks[i++]!);
        timer = setTimeout(next, delayMs);
      }
    };
    sock.on('connect', next);
    sock.on('data', (d) => {
      if (!reply) answeredAfterMs = performance.now() - t0;
      reply += d.toString();
    });
    sock.on('close', done);
    sock.on('error', () => {});
  });
}

const pct = (xs: number[], p: number) => {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
};
const round = (x: number) => Math.round(x * 10) / 10;

/**
 * Sends a /health request every 25 ms (open loop: a new one whether or not the last was answered, so a stalled
 * event loop shows in every ping it delays, not in one) until `stop` resolves; returns all their latencies.
 */
async function pingHealth(url: string, stop: Promise<unknown>): Promise<number[]> {
  const pings: Promise<number>[] = [];
  let stopped = false;
  void stop.finally(() => (stopped = true));
  do {
    const t0 = performance.now();
    pings.push(fetch(`${url}/health`).then((r) => r.arrayBuffer()).then(() => performance.now() - t0, () => performance.now() - t0));
    await new Promise((r) => setTimeout(r, 25));
  } while (!stopped);
  return Promise.all(pings);
}

let peakRss = 0;
function sampleRss(pid: number): () => void {
  const t = setInterval(() => {
    try {
      peakRss = Math.max(peakRss, rssMB(pid));
    } catch {
      /* exited */
    }
  }, 20);
  return () => clearInterval(t);
}

// ---------------------------------------------------------------------------------------------------------
// The hostile set.

interface Case { name: string; run: (url: string) => Promise<Answer & { closedAfterMs?: number }> }

// Inputs are made before the server starts, and only for the cases that run (`--only`): making them takes seconds.
const wanted = (name: string) => !only || only.has(name);
const tall = wanted('png_1x100000') ? png(1, 100_000) : Buffer.alloc(0);
const big8k = wanted('four_png_8000x8000') ? png(8000, 8000) : Buffer.alloc(0);
const photo12mp = wanted('allowed_photo_12mp') ? png(4000, 3000, (x, y) => [(x * 7) & 255, (y * 5) & 255, ((x ^ y) * 3) & 255]) : Buffer.alloc(0);
// The burst's photo, made now: generating it takes the client seconds, which must not fall between requests.
const burstPhoto = dataUrl('image/png', png(3000, 2000, (x, y) => [(x * 7) & 255, (y * 5) & 255, ((x ^ y) * 3) & 255]));
const CASES: Case[] = [
  { name: 'png_1x100000', run: (u) => post(u, '/v1/chat/completions', chat(imageParts([dataUrl('image/png', tall)]))) },
  { name: 'svg_16000x16000', run: (u) => post(u, '/v1/chat/completions', chat(imageParts([dataUrl('image/svg+xml', svg(16000, 16000))]))) },
  { name: 'four_png_8000x8000', run: (u) => post(u, '/v1/chat/completions', chat(imageParts([0, 1, 2, 3].map(() => dataUrl('image/png', big8k))))) },
  // Allowed, but large: a 12-megapixel photo is decoded and resized while other clients are served.
  { name: 'allowed_photo_12mp', run: (u) => post(u, '/v1/chat/completions', chat(imageParts([dataUrl('image/png', photo12mp)]))) },
  { name: 'text_red_x130000', run: (u) => post(u, '/v1/chat/completions', chat('red '.repeat(130_000))) },
  { name: 'text_10MB', run: (u) => post(u, '/v1/chat/completions', chat('x'.repeat(10 * 1024 * 1024))) },
  { name: 'generate_text_red_x130000', run: (u) => post(u, '/generate', JSON.stringify({ messages: [{ role: 'user', content: 'red '.repeat(130_000) }] })) },
  {
    name: 'slowloris_headers',
    run: async (u) => {
      const chunks = ['POST /generate HTTP/1.1\r\n', ...'Host: 127.0.0.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n'.split('')];
      const r = await rawExchange(u, chunks, 1000, 70_000);
      return { status: r.status, ms: r.answeredAfterMs, body: r.reply, closedAfterMs: r.closedAfterMs };
    },
  },
  {
    name: 'slow_body',
    run: async (u) => {
      const body = chat('hi');
      const chunks = [`POST /generate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`, ...body.split('')];
      const r = await rawExchange(u, chunks, 1000, 70_000);
      return { status: r.status, ms: r.answeredAfterMs, body: r.reply, closedAfterMs: r.closedAfterMs };
    },
  },
  {
    name: 'header_too_large_431',
    run: async (u) => {
      const r = await rawExchange(u, [`GET /v1/models HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(40_000)}\r\n\r\n`], 0, 5000);
      return { status: r.status, ms: r.answeredAfterMs, body: r.reply, closedAfterMs: r.closedAfterMs };
    },
  },
  {
    name: 'malformed_request_line_400',
    run: async (u) => {
      const r = await rawExchange(u, ['GARBAGE\r\n\r\n'], 0, 5000);
      return { status: r.status, ms: r.answeredAfterMs, body: r.reply, closedAfterMs: r.closedAfterMs };
    },
  },
];

// ---------------------------------------------------------------------------------------------------------

const server = await startServer();
const stopRss = sampleRss(server.pid);
try {
  // Warm up, then idle references: /health and the normal request, alone.
  for (let i = 0; i < 3; i++) await post(server.url, '/v1/chat/completions', normalBody);
  const idleHealth: number[] = [];
  for (let i = 0; i < 40; i++) {
    const t0 = performance.now();
    await fetch(`${server.url}/health`).then((r) => r.arrayBuffer());
    idleHealth.push(performance.now() - t0);
  }
  const idleNormal: number[] = [];
  for (let i = 0; i < 5; i++) idleNormal.push((await post(server.url, '/v1/chat/completions', normalBody)).ms);
  const idleNormalMs = pct(idleNormal, 50);
  const idleRss = rssMB(server.pid);
  const healthIdle = ((await (await fetch(`${server.url}/health`)).json()) as { memory: Record<string, number> }).memory;

  const results = [];
  for (const c of CASES) {
    if (only && !only.has(c.name)) continue;
    // Each case REPEAT times: one normal request per round is one sample of a latency that varies by ±30% even at
    // idle, so the ratio is the median of the rounds. The slow clients (10–60 s by design) run once, with REPEAT
    // normal requests one second apart while they hold their connection.
    const rounds: { hostile: Awaited<ReturnType<Case['run']>>; normal: Answer[]; health: number[] }[] = [];
    const slow = c.name.startsWith('slow');
    for (let i = 0; i < (slow ? 1 : REPEAT); i++) {
      const hostile = c.run(server.url);
      const health = pingHealth(server.url, hostile);
      const normal: Answer[] = [];
      for (let j = 0; j < (slow ? REPEAT : 1); j++) {
        // A normal client arriving just after the hostile one (and, beside a slow client, again each second).
        await new Promise((r) => setTimeout(r, j === 0 ? 30 : 1000));
        normal.push(await post(server.url, '/v1/chat/completions', normalBody));
      }
      rounds.push({ hostile: await hostile, normal, health: await health });
    }
    const h = rounds.at(-1)!.hostile;
    const n = rounds.at(-1)!.normal.at(-1)!;
    const lat = rounds.flatMap((r) => r.health);
    const normals = rounds.flatMap((r) => r.normal);
    const normalMs = normals.map((r) => r.ms);
    let msg = h.body;
    try {
      msg = (JSON.parse(h.body) as { error?: { message?: string } }).error?.message ?? h.body;
    } catch {
      /* raw */
    }
    results.push({
      case: c.name,
      status: h.status,
      answered_ms: round(h.ms),
      ...(h.closedAfterMs !== undefined ? { closed_ms: round(h.closedAfterMs) } : {}),
      health_p99_ms: round(pct(lat, 99)),
      health_max_ms: round(Math.max(...lat)),
      health_pings: lat.length,
      normal_status: normals.every((r) => r.status === n.status) ? n.status : Math.max(...normals.map((r) => r.status)),
      statuses: rounds.map((r) => r.hostile.status),
      normal_ms: round(pct(normalMs, 50)),
      normal_ratio: round(pct(normalMs, 50) / idleNormalMs),
      normal_ratios: normalMs.map((ms) => round(ms / idleNormalMs)),
      rss_mb_after: round(rssMB(server.pid)),
      message: msg.slice(0, 160),
    });
    process.stderr.write(`${JSON.stringify(results.at(-1))}\n`);
  }
  const stillOk = await post(server.url, '/v1/chat/completions', normalBody);
  const peakDuringHostile = peakRss;

  // Memory comes back: a burst of large-but-allowed requests (8 concurrent, 4 photos of 3000×2000 each).
  const burstBody = chat(imageParts([burstPhoto, burstPhoto, burstPhoto, burstPhoto]));
  const smapsIdle = smapsMB(server.pid, 'idle');
  const before = rssMB(server.pid);
  peakRss = before;
  const burstStart = performance.now();
  // The server's responsiveness during the burst, closed loop every 500 ms (its longest stall explains timeouts).
  const burstDone = Promise.all(Array.from({ length: 8 }, () => post(server.url, '/v1/chat/completions', burstBody)));
  const burstHealth: number[] = [];
  void (async () => {
    let done = false;
    void burstDone.finally(() => (done = true));
    while (!done) {
      const t0 = performance.now();
      await fetch(`${server.url}/health`).then((r) => r.arrayBuffer(), () => null);
      burstHealth.push(performance.now() - t0);
      await new Promise((r) => setTimeout(r, 500));
    }
  })();
  const burst = await burstDone;
  const burstPeak = peakRss;
  const burstSeconds = (performance.now() - burstStart) / 1000;
  const smapsAfter = smapsMB(server.pid, 'after');
  const health = async () => ((await (await fetch(`${server.url}/health`)).json()) as { memory: Record<string, number> }).memory;
  const memBefore = await health();
  await new Promise((r) => setTimeout(r, 3000));
  const after = rssMB(server.pid);
  // Media worker threads above the first exit after 30 s idle.
  await new Promise((r) => setTimeout(r, 32_000));
  const afterIdle = rssMB(server.pid);
  const smapsLater = smapsMB(server.pid, 'later');
  const memAfter = await health();

  const out = {
    bench: 'serve-hostile',
    model: modelDir,
    server_flags: extra,
    malloc_env: Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('MALLOC_') || k === 'GLIBC_TUNABLES')),
    idle: { health_p99_ms: round(pct(idleHealth, 99)), normal_ms: round(idleNormalMs), rss_mb: round(idleRss) },
    cases: results,
    after_hostile_normal_status: stillOk.status,
    rss_peak_mb_hostile: round(peakDuringHostile),
    burst: {
      statuses: [...new Set(burst.map((b) => b.status))],
      seconds: round(burstSeconds),
      answered_s: burst.map((b) => round(b.ms / 1000)),
      health_max_ms_during: round(Math.max(0, ...burstHealth)),
      failures: burst.filter((b) => b.status < 0 || b.status >= 500).map((b) => `${b.status} after ${round(b.ms)} ms: ${b.body}`),
      rss_idle_mb: round(idleRss),
      rss_before_mb: round(before),
      rss_peak_mb: round(burstPeak),
      rss_after_3s_mb: round(after),
      rss_after_35s_mb: round(afterIdle),
      after_3s_over_idle: round((after / idleRss) * 100) / 100,
      after_35s_over_idle: round((afterIdle / idleRss) * 100) / 100,
      // /health's view: the main thread's JS heap and the wasm heap (which cannot shrink) right after and 35 s after.
      health_memory_idle: healthIdle,
      health_memory_after_burst: memBefore,
      health_memory_35s_later: memAfter,
      // Resident MB by kind of mapping (smapsMB): idle, right after the burst, 35 s later.
      smaps_idle: smapsIdle,
      smaps_after: smapsAfter,
      smaps_35s_later: smapsLater,
    },
    goals: {
      health_p99_le_250ms: results.every((r) => r.health_p99_ms <= 250),
      normal_le_2x_idle: results.every((r) => r.normal_ratio <= 2),
      answered_within_2s: results.filter((r) => !r.case.startsWith('slow') && !r.case.startsWith('allowed')).every((r) => r.answered_ms <= 2000),
      rss_peak_le_1500mb: peakDuringHostile <= 1500,
      rss_back_within_20pct: afterIdle <= idleRss * 1.2,
      no_5xx: results.every((r) => r.status < 500 && r.normal_status < 500) && burst.every((b) => b.status < 500),
    },
    server_error_log_lines: serverErrors.length,
    machine: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, load: os.loadavg().map((l) => round(l)) },
    date: new Date().toISOString(),
  };
  console.log(JSON.stringify(out));
} finally {
  stopRss();
  server.proc.kill('SIGTERM');
}
