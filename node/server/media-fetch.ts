/**
 * Loading the media a request refers to, safely. The seed fetched any URL a client sent, with no timeout; a
 * public server must not let clients read its files, reach its private network, or tie it up with endless
 * downloads. Rules:
 *
 * - `data:` URLs are decoded in memory (size-capped, content type checked).
 * - http(s) URLs only. The host is resolved here and every address checked ({@link refusedAddressReason});
 *   the connection then goes to the checked address (Host header and TLS SNI keep the name), so a DNS answer
 *   that changes between check and connect (DNS rebinding) cannot redirect it. Redirects are followed by
 *   hand, each hop checked the same way, at most `maxRedirects`. One deadline covers all hops; the body is
 *   counted while it streams and cut off at `maxBytes`; the response's content type must suit the modality.
 * - Local paths (and `file:` URLs) only when a media root is configured, and only inside it: `..` and
 *   symlinks that lead outside are refused (checked on the real path).
 */
import * as http from 'node:http';
import * as https from 'node:https';
import { isIP } from 'node:net';
import { lookup } from 'node:dns/promises';
import { open, realpath } from 'node:fs/promises';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { refusedAddressReason } from './address-policy.js';

/** What kind of media an item must be, for the content-type check. `any`: no check. */
export type MediaFamily = 'image' | 'audio' | 'video' | 'document' | 'any';

/** The loader's limits. */
export interface MediaPolicy {
  /** Folder that local paths resolve under; local paths are refused without one. */
  mediaRoot?: string;
  /** Fetch from loopback/private/link-local/metadata addresses too (trusted networks only). */
  allowPrivateUrls?: boolean;
  /** Deadline for one URL including redirects. Default 10 s. */
  timeoutMs?: number;
  /** Largest item in bytes (URL body, file, data URL). Default 20 MiB. */
  maxBytes?: number;
  /** Default 3. */
  maxRedirects?: number;
}

/** A refused or failed item reference; the server answers 400 with this message. */
export class MediaError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MediaError';
  }
}

const BINARY = new Set(['application/octet-stream', 'binary/octet-stream']);
const FAMILY_TYPES: Record<MediaFamily, (mime: string) => boolean> = {
  image: (t) => t.startsWith('image/'),
  audio: (t) => t.startsWith('audio/') || t === 'application/ogg' || t === 'video/webm' || t === 'video/mp4',
  video: (t) => t.startsWith('video/') || t === 'image/gif',
  document: (t) => t.startsWith('text/') || ['application/pdf', 'application/json', 'application/xml'].includes(t),
  any: () => true,
};

/** Throws unless `mime` (a Content-Type value; empty = unknown) suits `family`. */
export function checkContentType(mime: string, family: MediaFamily, what: string): void {
  const t = mime.split(';')[0]!.trim().toLowerCase();
  if (!t || BINARY.has(t) || FAMILY_TYPES[family](t)) return;
  throw new MediaError(`${what} has content type "${t}", which is not ${family === 'image' ? 'an' : 'a'} ${family} type`);
}

/** Fetches items under a {@link MediaPolicy}. */
export class MediaFetcher {
  readonly timeoutMs: number;
  readonly maxBytes: number;
  private rootReal: Promise<string> | null = null;

  constructor(readonly policy: MediaPolicy = {}) {
    this.timeoutMs = policy.timeoutMs ?? 10_000;
    this.maxBytes = policy.maxBytes ?? 20 * 1024 * 1024;
  }

  /** The bytes `ref` (data URL, http(s) URL, `file:` URL or path) refers to, or a {@link MediaError}. */
  async load(ref: string, family: MediaFamily = 'any', signal?: AbortSignal): Promise<Uint8Array> {
    const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(ref)?.[1]?.toLowerCase();
    if (scheme === 'data') return this.dataUrl(ref, family);
    if (scheme === 'http' || scheme === 'https') return this.fetchUrl(ref, family, signal);
    if (scheme === 'file') return this.localFile(ref);
    // One-letter "schemes" are Windows drive letters; anything else with a scheme is refused outright.
    if (scheme && scheme.length > 1) throw new MediaError(`URL scheme "${scheme}:" is not allowed (use http(s) or data: URLs)`);
    return this.localFile(ref);
  }

  private dataUrl(ref: string, family: MediaFamily): Uint8Array {
    const comma = ref.indexOf(',');
    if (comma < 0) throw new MediaError('malformed data URL (expected "data:[<type>][;base64],<data>")');
    const [mime = '', ...params] = ref.slice(5, comma).split(';');
    checkContentType(mime, family, 'data URL');
    const payload = ref.slice(comma + 1);
    if (!params.some((p) => p.trim().toLowerCase() === 'base64')) {
      let text: string;
      try {
        text = decodeURIComponent(payload);
      } catch {
        throw new MediaError('data URL has invalid percent-encoding');
      }
      const bytes = new TextEncoder().encode(text);
      if (bytes.length > this.maxBytes) throw this.tooBig('data URL');
      return bytes;
    }
    // Only copied when it has whitespace to drop: a large payload is scanned, not rebuilt.
    const b64 = /\s/.test(payload) ? payload.replace(/\s+/g, '') : payload;
    // Checked before decoding so an oversized item costs no allocation; strict so garbage is not "decoded".
    if (Math.floor((b64.length * 3) / 4) > this.maxBytes + 2) throw this.tooBig('data URL');
    if (b64.length % 4 === 1 || !/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) throw new MediaError('data URL has invalid base64');
    const buf = Buffer.from(b64, 'base64');
    return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  private tooBig(what: string): MediaError {
    return new MediaError(`${what} is larger than the server's limit of ${this.maxBytes} bytes`);
  }

  private async fetchUrl(ref: string, family: MediaFamily, clientSignal?: AbortSignal): Promise<Uint8Array> {
    const timeout = AbortSignal.timeout(this.timeoutMs);
    const signal = clientSignal ? AbortSignal.any([timeout, clientSignal]) : timeout;
    let url = parseHttpUrl(ref);
    const maxRedirects = this.policy.maxRedirects ?? 3;
    try {
      for (let hop = 0; ; hop++) {
        const address = await this.checkedAddress(url);
        const res = await this.request(url, address, family, signal);
        if (res.location === undefined) return res.bytes!;
        if (hop >= maxRedirects) throw new MediaError(`${show(ref)}: more than ${maxRedirects} redirects`);
        url = parseHttpUrl(new URL(res.location, url).href);
      }
    } catch (e) {
      if (timeout.aborted) throw new MediaError(`${show(ref)}: no complete answer within ${this.timeoutMs} ms`);
      if (clientSignal?.aborted) throw e;
      if (e instanceof MediaError) throw e;
      throw new MediaError(`could not fetch ${show(ref)}: ${(e as Error).message}`);
    }
  }

  /** Resolves the URL's host and returns one address to connect to, after checking all of them. */
  private async checkedAddress(url: URL): Promise<{ address: string; family: number }> {
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const addresses = isIP(host) ? [{ address: host, family: isIP(host) }] : await lookup(host, { all: true, verbatim: true }).catch((e: NodeJS.ErrnoException) => {
      throw new MediaError(`cannot resolve host "${host}" (${e.code ?? e.message})`);
    });
    if (addresses.length === 0) throw new MediaError(`host "${host}" has no addresses`);
    if (!this.policy.allowPrivateUrls) {
      for (const a of addresses) {
        const why = refusedAddressReason(a.address);
        if (why) {
          throw new MediaError(
            `refusing to fetch ${url.href}: ${host === a.address ? 'address' : `"${host}" resolves to`} ${a.address}, which is ${why},` +
              ' not a public address (the server was not started with --allow_private_urls)',
          );
        }
      }
    }
    return addresses[0]!;
  }

  /** One GET to a fixed address: a redirect target, or the body (streamed with a byte cap). */
  private request(url: URL, to: { address: string; family: number }, family: MediaFamily, signal: AbortSignal): Promise<{ location?: string; bytes?: Uint8Array }> {
    const secure = url.protocol === 'https:';
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const options: https.RequestOptions = {
      host: to.address,
      family: to.family,
      port: url.port || (secure ? 443 : 80),
      path: `${url.pathname}${url.search}`,
      method: 'GET',
      headers: { host: url.host, accept: family === 'any' ? '*/*' : `${family}/*, */*;q=0.5`, 'accept-encoding': 'identity', 'user-agent': 'multi-token-server' },
      // The certificate is verified against the name the client gave, not the address we connect to.
      servername: isIP(host) ? undefined : host,
      agent: false,
      signal,
    };
    return new Promise((resolve, reject) => {
      const req = (secure ? https : http).request(options, (res) => {
        const status = res.statusCode ?? 0;
        if ([301, 302, 303, 307, 308].includes(status)) {
          res.resume();
          const location = res.headers.location;
          if (!location) reject(new MediaError(`${url.href}: redirect (HTTP ${status}) without a Location`));
          else resolve({ location });
          return;
        }
        const fail = (e: Error) => {
          res.destroy();
          reject(e);
        };
        if (status < 200 || status >= 300) return fail(new MediaError(`${url.href} answered HTTP ${status}`));
        try {
          checkContentType(res.headers['content-type'] ?? '', family, url.href);
        } catch (e) {
          return fail(e as Error);
        }
        const declared = Number(res.headers['content-length']);
        if (declared > this.maxBytes) return fail(this.tooBig(url.href));
        const chunks: Buffer[] = [];
        let total = 0;
        res.on('data', (c: Buffer) => {
          total += c.length;
          if (total > this.maxBytes) fail(this.tooBig(url.href));
          else chunks.push(c);
        });
        res.on('error', reject);
        res.on('close', () => reject(new MediaError(`${url.href}: connection closed before the body was complete`)));
        res.on('end', () => {
          const buf = Buffer.concat(chunks);
          resolve({ bytes: new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength) });
        });
      });
      req.on('error', reject);
      req.end();
    });
  }

  private async localFile(ref: string): Promise<Uint8Array> {
    const root = this.policy.mediaRoot;
    if (!root) throw new MediaError(`"${show(ref)}" is a local path, and local paths are disabled on this server (it was started without --media_root)`);
    let p = ref;
    if (ref.toLowerCase().startsWith('file:')) {
      try {
        p = fileURLToPath(new URL(ref));
      } catch {
        throw new MediaError(`malformed file URL "${show(ref)}"`);
      }
    }
    if (p.includes('\0')) throw new MediaError('path contains a NUL byte');
    this.rootReal ??= realpath(root);
    const rootReal = await this.rootReal;
    const rootAbs = path.resolve(root);
    // Lexical check first ('..', absolute paths elsewhere), then the real path (symlinks leading out).
    const full = path.isAbsolute(p) ? path.normalize(p) : path.resolve(rootReal, p);
    if (!inside(rootReal, full) && !inside(rootAbs, full)) throw new MediaError(`"${show(ref)}" is outside the server's media root`);
    let real: string;
    try {
      real = await realpath(full);
    } catch {
      throw new MediaError(`"${show(ref)}": no such file under the media root`);
    }
    if (!inside(rootReal, real)) throw new MediaError(`"${show(ref)}" leads (through a symlink) outside the server's media root`);
    // Open the resolved path, then check what was opened: a plain file under the size cap.
    const fh = await open(real, 'r').catch(() => {
      throw new MediaError(`"${show(ref)}": cannot open the file`);
    });
    try {
      const st = await fh.stat();
      if (!st.isFile()) throw new MediaError(`"${show(ref)}" is not a regular file`);
      if (st.size > this.maxBytes) throw this.tooBig(`"${show(ref)}"`);
      const buf = await fh.readFile();
      return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
    } finally {
      await fh.close();
    }
  }
}

/** A client-given reference for an error message, cut short (a hostile one may be megabytes long). */
function show(ref: string): string {
  return ref.length > 200 ? `${ref.slice(0, 200)}…` : ref;
}

function inside(root: string, p: string): boolean {
  const rel = path.relative(root, p);
  return rel !== '' && rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel);
}

/** An http(s) URL without credentials, or a MediaError. */
function parseHttpUrl(ref: string): URL {
  let url: URL;
  try {
    url = new URL(ref);
  } catch {
    throw new MediaError(`malformed URL "${ref.slice(0, 200)}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new MediaError(`${url.protocol} URLs are not allowed (http(s) only)`);
  if (url.username || url.password) throw new MediaError('URLs with credentials are not allowed');
  return url;
}
