/**
 * A Hugging Face hub stand-in on 127.0.0.1 for tests (point `HF_ENDPOINT` at it): the download URLs
 * (`/{repo}/resolve/{rev}/{file}` with `ETag`, `X-Linked-Etag`, `X-Linked-Size`, `X-Repo-Commit`, ranges) and the
 * API routes `@huggingface/hub` calls (`/api/models/{repo}/revision/{rev}`, `paths-info`, `repos/create`,
 * `preupload`, `commit`). Blob ids follow the hub: git blob SHA-1 for small files, SHA-256 (LFS) for weights, so
 * the cache it produces is the one Python's `huggingface_hub` would. Private repos answer 401 without the token.
 * Every request is logged, and every commit is kept, so tests can check what was downloaded or uploaded.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

interface StoredFile {
  bytes: Uint8Array;
  oid: string;
  lfs: string | null;
}

interface Commit {
  sha: string;
  title: string;
  files: Map<string, StoredFile>;
}

interface Repo {
  private: boolean;
  commits: Commit[];
  branches: Map<string, string>;
}

/** One request the hub answered. */
export interface HubRequest {
  method: string;
  path: string;
  auth: string | null;
  status: number;
}

const LFS_EXT = /\.(safetensors|bin|onnx|pt|pth|msgpack|h5)$/;

const sha1 = (b: Uint8Array | string) => createHash('sha1').update(b).digest('hex');
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const gitOid = (b: Uint8Array) => sha1(Buffer.concat([Buffer.from(`blob ${b.length}\0`), b]));
const asBytes = (v: Uint8Array | string) => (typeof v === 'string' ? new TextEncoder().encode(v) : v);

async function body(req: IncomingMessage): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of req) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

export class MockHub {
  readonly repos = new Map<string, Repo>();
  readonly requests: HubRequest[] = [];
  private server: Server | null = null;
  url = '';

  constructor(readonly token = 'hf_mocktoken') {}

  /** Publishes `files` as a new commit of `repo` on `branch` (creating the repo); returns the commit hash. */
  publish(repo: string, files: Map<string, Uint8Array | string> | Record<string, Uint8Array | string>, opts: { private?: boolean; branch?: string; title?: string } = {}): string {
    const r: Repo = this.repos.get(repo) ?? { private: opts.private ?? false, commits: [], branches: new Map() };
    this.repos.set(repo, r);
    const branch = opts.branch ?? 'main';
    const parent = r.branches.get(branch);
    const prev = r.commits.find((c) => c.sha === parent);
    const stored = new Map(prev?.files ?? []);
    for (const [p, v] of files instanceof Map ? files : Object.entries(files)) {
      const bytes = asBytes(v);
      stored.set(p, { bytes, oid: gitOid(bytes), lfs: LFS_EXT.test(p) ? sha256(bytes) : null });
    }
    const sha = sha1(`${repo}\n${parent ?? ''}\n${r.commits.length}\n${[...stored].map(([p, f]) => `${p}:${f.oid}`).join('\n')}`);
    r.commits.push({ sha, title: opts.title ?? `commit ${r.commits.length}`, files: stored });
    r.branches.set(branch, sha);
    return sha;
  }

  /** The files of `repo` at `rev` (branch or hash), or null. */
  files(repo: string, rev = 'main'): Map<string, Uint8Array> | null {
    const c = this.commit(repo, rev);
    return c ? new Map([...c.files].map(([p, f]) => [p, f.bytes])) : null;
  }

  private commit(repo: string, rev: string): Commit | null {
    const r = this.repos.get(repo);
    if (!r) return null;
    const sha = r.branches.get(rev) ?? rev;
    return r.commits.find((c) => c.sha === sha) ?? null;
  }

  /** Requests whose path starts with `prefix` (e.g. downloads: `/org/name/resolve/`). */
  count(prefix: string, method?: string): number {
    return this.requests.filter((r) => r.path.startsWith(prefix) && (!method || r.method === method)).length;
  }

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((e) => this.send(req, res, 500, { error: String(e) }));
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.url;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }

  private send(req: IncomingMessage, res: ServerResponse, status: number, json: unknown, headers: Record<string, string> = {}): void {
    this.log(req, status);
    const text = JSON.stringify(json);
    res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(text)), ...headers });
    res.end(req.method === 'HEAD' ? undefined : text);
  }

  private log(req: IncomingMessage, status: number): void {
    this.requests.push({ method: req.method ?? 'GET', path: decodeURIComponent((req.url ?? '').split('?')[0]!), auth: req.headers.authorization ?? null, status });
  }

  private authorized(req: IncomingMessage, repo: Repo): boolean {
    return !repo.private || req.headers.authorization === `Bearer ${this.token}`;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    const p = decodeURIComponent(url.pathname);
    let m: RegExpExecArray | null;
    if ((m = /^\/api\/models\/([^/]+\/[^/]+)\/revision\/(.+)$/.exec(p)) && req.method === 'GET') return this.info(req, res, m[1]!, m[2]!);
    if ((m = /^\/api\/models\/([^/]+\/[^/]+)\/paths-info\/(.+)$/.exec(p)) && req.method === 'POST') return this.pathsInfo(req, res, m[1]!, m[2]!);
    if (p === '/api/repos/create' && req.method === 'POST') return this.create(req, res);
    if ((m = /^\/api\/models\/([^/]+\/[^/]+)\/preupload\/(.+)$/.exec(p)) && req.method === 'POST') return this.preupload(req, res, m[1]!);
    if ((m = /^\/api\/models\/([^/]+\/[^/]+)\/commit\/(.+)$/.exec(p)) && req.method === 'POST') return this.commitRoute(req, res, m[1]!, m[2]!);
    if ((m = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(p)) && (req.method === 'GET' || req.method === 'HEAD')) return this.resolve(req, res, m[1]!, m[2]!, m[3]!);
    this.send(req, res, 404, { error: `mock hub: no route for ${req.method} ${p}` });
  }

  /** The repo if it exists and the caller may see it; otherwise answers (401/404) and returns null. */
  private visible(req: IncomingMessage, res: ServerResponse, name: string): Repo | null {
    const repo = this.repos.get(name);
    if (!repo) {
      this.send(req, res, 404, { error: 'Repository not found' }, { 'X-Error-Code': 'RepoNotFound' });
      return null;
    }
    if (!this.authorized(req, repo)) {
      this.send(req, res, 401, { error: 'Invalid credentials in Authorization header' }, { 'X-Error-Code': 'RepoNotFound' });
      return null;
    }
    return repo;
  }

  private info(req: IncomingMessage, res: ServerResponse, name: string, rev: string): void {
    const repo = this.visible(req, res, name);
    if (!repo) return;
    const c = this.commit(name, rev === 'HEAD' ? 'main' : rev);
    if (!c) return this.send(req, res, 404, { error: `Invalid rev id: ${rev}` }, { 'X-Error-Code': 'RevisionNotFound' });
    this.send(req, res, 200, {
      _id: sha1(name).slice(0, 24), id: name, sha: c.sha, private: repo.private, gated: false, downloads: 0, likes: 0,
      lastModified: new Date(0).toISOString(), siblings: [...c.files.keys()].map((rfilename) => ({ rfilename })),
    });
  }

  private async pathsInfo(req: IncomingMessage, res: ServerResponse, name: string, rev: string): Promise<void> {
    const { paths } = JSON.parse((await body(req)).toString('utf8')) as { paths: string[] };
    const repo = this.visible(req, res, name);
    if (!repo) return;
    const c = this.commit(name, rev);
    if (!c) return this.send(req, res, 404, { error: `Invalid rev id: ${rev}` }, { 'X-Error-Code': 'RevisionNotFound' });
    const out = paths.filter((x) => c.files.has(x)).map((x) => {
      const f = c.files.get(x)!;
      return {
        type: 'file', path: x, oid: f.oid, size: f.bytes.length,
        ...(f.lfs ? { lfs: { oid: f.lfs, size: f.bytes.length, pointerSize: 134 } } : {}),
        lastCommit: { id: c.sha, title: c.title, date: new Date(0).toISOString() },
      };
    });
    this.send(req, res, 200, out);
  }

  private resolve(req: IncomingMessage, res: ServerResponse, name: string, rev: string, file: string): void {
    const repo = this.visible(req, res, name);
    if (!repo) return;
    const c = this.commit(name, rev);
    if (!c) return this.send(req, res, 404, { error: `Invalid rev id: ${rev}` }, { 'X-Error-Code': 'RevisionNotFound' });
    const f = c.files.get(file);
    if (!f) return this.send(req, res, 404, { error: `Entry not found: ${file}` }, { 'X-Error-Code': 'EntryNotFound', 'X-Repo-Commit': c.sha });
    const size = f.bytes.length;
    const headers: Record<string, string> = {
      'Content-Type': 'application/octet-stream', 'Accept-Ranges': 'bytes', 'X-Repo-Commit': c.sha, ETag: `"${f.lfs ?? f.oid}"`,
      ...(f.lfs ? { 'X-Linked-Etag': `"${f.lfs}"`, 'X-Linked-Size': String(size) } : {}),
    };
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    let start = 0;
    let end = size - 1;
    let status = 200;
    if (range) {
      start = Number(range[1]);
      end = range[2] ? Math.min(Number(range[2]), size - 1) : size - 1;
      status = 206;
      headers['Content-Range'] = `bytes ${start}-${end}/${size}`;
    }
    const chunk = f.bytes.subarray(start, end + 1);
    headers['Content-Length'] = String(chunk.length);
    this.log(req, status);
    res.writeHead(status, headers);
    res.end(req.method === 'HEAD' ? undefined : Buffer.from(chunk));
  }

  private async create(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const b = JSON.parse((await body(req)).toString('utf8')) as { name: string; organization?: string; visibility?: string; private?: boolean; type?: string };
    if (req.headers.authorization !== `Bearer ${this.token}`) return this.send(req, res, 401, { error: 'Invalid username or password.' });
    const name = `${b.organization}/${b.name}`;
    if (this.repos.has(name)) return this.send(req, res, 409, { error: 'You already created this model repo', url: `${this.url}/${name}` });
    this.repos.set(name, { private: b.visibility === 'private' || b.private === true, commits: [], branches: new Map() });
    this.send(req, res, 200, { url: `${this.url}/${name}`, name, id: sha1(name).slice(0, 24) });
  }

  private async preupload(req: IncomingMessage, res: ServerResponse, name: string): Promise<void> {
    const b = JSON.parse((await body(req)).toString('utf8')) as { files: { path: string }[] };
    if (req.headers.authorization !== `Bearer ${this.token}`) return this.send(req, res, 401, { error: 'Invalid credentials' });
    if (!this.repos.has(name)) return this.send(req, res, 404, { error: 'Repository not found' });
    // Everything goes inline in the commit ("regular"): the files here are tiny.
    this.send(req, res, 200, { files: b.files.map((f) => ({ path: f.path, uploadMode: 'regular', shouldIgnore: false })) });
  }

  private async commitRoute(req: IncomingMessage, res: ServerResponse, name: string, branch: string): Promise<void> {
    const lines = (await body(req)).toString('utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { key: string; value: Record<string, unknown> });
    if (req.headers.authorization !== `Bearer ${this.token}`) return this.send(req, res, 401, { error: 'Invalid credentials' });
    if (!this.repos.has(name)) return this.send(req, res, 404, { error: 'Repository not found' });
    const files = new Map<string, Uint8Array>();
    let title = 'upload';
    for (const { key, value } of lines) {
      if (key === 'header') title = String(value.summary ?? title);
      else if (key === 'file') files.set(String(value.path), new Uint8Array(Buffer.from(String(value.content), value.encoding === 'base64' ? 'base64' : 'utf8')));
      else return this.send(req, res, 400, { error: `mock hub: unsupported commit operation ${key}` });
    }
    const sha = this.publish(name, files, { branch, title });
    this.send(req, res, 200, { commitOid: sha, commitUrl: `${this.url}/${name}/commit/${sha}`, success: true });
  }
}
