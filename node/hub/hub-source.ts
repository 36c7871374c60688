/**
 * A Hugging Face model id as a `ModelSource` in Node: files come from the standard hub cache
 * (`{cache}/models--org--name/snapshots/{commit}/…`, symlinks into `blobs/`, `refs/{revision}` holding the commit),
 * the very layout Python's `huggingface_hub` reads and writes, so a model either side downloaded is used by the
 * other without a second download.
 *
 * Downloads go through `@huggingface/hub`'s `downloadFileToCacheDir`. Three things are added around it, each
 * because the client leaves it out: (1) the revision is resolved to its commit first and passed as a hash — given a
 * branch, the client files each blob under that *file's* last commit, scattering one revision over several
 * snapshot folders; (2) `refs/{revision}` is written, which Python (and our offline mode) needs to find the
 * snapshot; (3) `HF_HUB_OFFLINE` and the fall-back to the cache when the hub cannot be reached, which the client
 * does not implement. The client's `console.debug` line (stdout in Node, where `generate --json` prints its
 * answer) is kept off stdout.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { downloadFileToCacheDir, getRepoFolderName, HubApiError, modelInfo } from '@huggingface/hub';
import { ModelFileError, type ModelSource } from '../../src/io/source.js';
import type { HubId } from '../../src/io/hub-id.js';
import { hubEnv, type HubEnv } from './hub-env.js';
import { progressFetch } from './download-progress.js';

const COMMIT_RE = /^[0-9a-f]{40}$/;

/** What a revision resolved to: its commit, and (online) the files it holds. */
interface Resolved {
  commit: string;
  files: Set<string> | null;
}

/** The cache folder of one repository. */
export function repoCacheDir(cacheDir: string, repo: string): string {
  return path.join(cacheDir, getRepoFolderName({ type: 'model', name: repo }));
}

/** The commit a revision points to in the cache (a hash is itself), or null. */
export async function cachedCommit(repoDir: string, revision: string): Promise<string | null> {
  if (COMMIT_RE.test(revision)) return existsSync(path.join(repoDir, 'snapshots', revision)) ? revision : null;
  try {
    const c = (await readFile(path.join(repoDir, 'refs', ...revision.split('/')), 'utf8')).trim();
    return COMMIT_RE.test(c) ? c : null;
  } catch {
    return null;
  }
}

let quietDepth = 0;
let savedDebug: typeof console.debug | null = null;
/** Runs `fn` with `console.debug` silenced (the client logs "Downloading X to Y" there, i.e. to stdout). */
async function quietly<T>(fn: () => Promise<T>): Promise<T> {
  if (quietDepth++ === 0) {
    savedDebug = console.debug;
    console.debug = () => {};
  }
  try {
    return await fn();
  } finally {
    if (--quietDepth === 0 && savedDebug) console.debug = savedDebug;
  }
}

/** Is this failure "could not reach the hub" (fall back to the cache) rather than an answer from it? */
function unreachable(e: unknown): boolean {
  return !(e instanceof HubApiError) && (e instanceof TypeError || /fetch failed|ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ETIMEDOUT/.test(String((e as Error)?.message)));
}

/** Files of a hub model, downloaded on first read into the shared cache. */
export class HubSource implements ModelSource {
  readonly location: string;
  private resolved: Promise<Resolved> | null = null;
  private readonly repoDir: string;

  constructor(
    readonly id: HubId,
    private readonly env: HubEnv = hubEnv(),
    private readonly log: (line: string) => void = (l) => process.stderr.write(`[multi-token] ${l}\n`),
  ) {
    this.location = `${id.repo}${id.revision === 'main' ? '' : `@${id.revision}`}`;
    this.repoDir = repoCacheDir(env.cacheDir, id.repo);
  }

  private credentials() {
    return { hubUrl: this.env.endpoint, ...(this.env.token ? { accessToken: this.env.token as `hf_${string}` } : {}) };
  }

  private fromCache(why: string): Promise<Resolved> {
    return cachedCommit(this.repoDir, this.id.revision).then((commit) => {
      if (!commit) {
        throw new ModelFileError(
          `${this.location} is neither a local folder nor in the Hugging Face cache (${this.repoDir}), and ${why}; ` +
            'check the path, or download the model once with the network on',
        );
      }
      return { commit, files: null };
    });
  }

  /** The revision's commit: from the hub (recording `refs/{revision}`), or from the cache when offline. */
  private resolve(): Promise<Resolved> {
    this.resolved ??= (async () => {
      if (this.env.offline) return this.fromCache('HF_HUB_OFFLINE is set');
      let info: { sha?: string; filePaths?: string[] };
      try {
        info = await modelInfo({ name: this.id.repo, revision: this.id.revision, additionalFields: ['sha', 'filePaths'], ...this.credentials() });
      } catch (e) {
        if (unreachable(e)) {
          this.log(`cannot reach ${this.env.endpoint} (${(e as Error).message}); using the cached ${this.location}`);
          return this.fromCache(`${this.env.endpoint} cannot be reached`);
        }
        throw this.explain(e);
      }
      const commit = info.sha;
      if (!commit || !COMMIT_RE.test(commit)) throw new ModelFileError(`${this.env.endpoint}: no commit hash for ${this.location}`);
      if (commit !== this.id.revision) {
        const ref = path.join(this.repoDir, 'refs', ...this.id.revision.split('/'));
        await mkdir(path.dirname(ref), { recursive: true });
        await writeFile(ref, commit);
      }
      return { commit, files: new Set(info.filePaths ?? []) };
    })();
    this.resolved.catch(() => (this.resolved = null));
    return this.resolved;
  }

  private explain(e: unknown): Error {
    if (e instanceof HubApiError) {
      const hint =
        e.statusCode === 401 || e.statusCode === 403
          ? this.env.token
            ? ' (HF_TOKEN was sent: does it have access to this gated or private model?)'
            : ' (a gated or private model: set HF_TOKEN)'
          : e.statusCode === 404
            ? ` (no such model or revision on ${this.env.endpoint}, nor a local folder by that name; a private model needs HF_TOKEN)`
            : '';
      return new ModelFileError(`${this.location}: HTTP ${e.statusCode} from the hub${hint}`);
    }
    return e as Error;
  }

  private snapshotPath(commit: string, name: string): string {
    return path.join(this.repoDir, 'snapshots', commit, ...name.split('/'));
  }

  async exists(name: string): Promise<boolean> {
    const { commit, files } = await this.resolve();
    if (files) return files.has(name);
    return (await stat(this.snapshotPath(commit, name)).catch(() => null))?.isFile() ?? false;
  }

  async readFile(name: string): Promise<Uint8Array> {
    if (name.split('/').some((p) => p === '..' || p === '') || name.startsWith('/')) throw new ModelFileError(`refusing file name "${name}" for ${this.location}`);
    const { commit, files } = await this.resolve();
    const cached = this.snapshotPath(commit, name);
    let file = cached;
    if (!existsSync(cached)) {
      if (!files) throw new ModelFileError(`missing file ${name} in the cached ${this.location} (${path.dirname(cached)}); the hub was not asked (offline)`);
      if (!files.has(name)) throw new ModelFileError(`missing file ${this.location}/${name} (not in the repository at ${commit.slice(0, 8)})`);
      try {
        file = await quietly(() =>
          downloadFileToCacheDir({
            repo: { type: 'model', name: this.id.repo },
            path: name,
            revision: commit,
            cacheDir: this.env.cacheDir,
            fetch: progressFetch(() => `${this.id.repo}/${name}`),
            ...this.credentials(),
          }),
        );
      } catch (e) {
        throw this.explain(e);
      }
    }
    const buf = await readFile(file);
    return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  }
}
