/**
 * Serves the demo page's built files (`--web_root DIR`, used by `npm start`): GET/HEAD only, `index.html` for
 * folders, a MIME type from the extension, and nothing outside the folder — `..`, encoded slashes, NUL bytes
 * and symlinks that lead out are refused (checked on the real path).
 */
import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import * as path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { ApiError } from './errors.js';

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.wgsl': 'text/plain; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.wav': 'audio/wav',
  '.mp3': 'audio/mpeg',
  '.woff2': 'font/woff2',
  '.safetensors': 'application/octet-stream',
  '.bin': 'application/octet-stream',
};

/** The MIME type served for a file name. */
export function mimeType(file: string): string {
  return MIME[path.extname(file).toLowerCase()] ?? 'application/octet-stream';
}

/** The real path of the file `urlPath` names under `rootReal`, or a 404 ApiError. */
async function resolveStatic(rootReal: string, urlPath: string): Promise<string> {
  const notFound = () => new ApiError(404, `no file ${urlPath.slice(0, 200)}`);
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    throw notFound();
  }
  // Encoded separators and NULs have no business in a static path.
  if (decoded.includes('\0') || decoded.includes('\\') || /%2f|%5c/i.test(urlPath)) throw notFound();
  const parts = decoded.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw notFound();
  let full = path.join(rootReal, ...parts);
  let real: string;
  try {
    real = await realpath(full);
    if ((await stat(real)).isDirectory()) {
      full = path.join(full, 'index.html');
      real = await realpath(full);
    }
  } catch {
    throw notFound();
  }
  const rel = path.relative(rootReal, real);
  if (rel === '..' || rel.startsWith(`..${path.sep}`) || path.isAbsolute(rel)) throw notFound();
  if (!(await stat(real)).isFile()) throw notFound();
  return real;
}

/**
 * Registers `GET /*` (and HEAD) for the files under `webRoot`; API routes registered elsewhere win.
 * `mounts` serve other folders under URL prefixes (`npm start` mounts the demo model at `/models/demo/`),
 * with the same confinement rules.
 * @throws Error when `webRoot` or a mount is not a folder (at startup rather than on the first page load).
 */
export async function registerStatic(app: FastifyInstance, webRoot: string, mounts: { prefix: string; dir: string }[] = []): Promise<void> {
  const folder = async (dir: string) => {
    const real = await realpath(dir).catch(() => {
      throw new Error(`--web_root ${dir}: no such folder`);
    });
    if (!(await stat(real)).isDirectory()) throw new Error(`--web_root ${dir} is not a folder`);
    return real;
  };
  const root = await folder(webRoot);
  const roots = await Promise.all(mounts.map(async (m) => ({ prefix: m.prefix.replace(/\/*$/, '/'), dir: await folder(m.dir) })));
  app.get('/*', async (request, reply) => {
    const url = request.url.split('?')[0]!;
    const mount = roots.find((m) => url.startsWith(m.prefix));
    const file = mount ? await resolveStatic(mount.dir, url.slice(mount.prefix.length - 1)) : await resolveStatic(root, url);
    const size = (await stat(file)).size;
    reply.header('x-content-type-options', 'nosniff').header('content-length', size).type(mimeType(file));
    return reply.send(createReadStream(file));
  });
}
