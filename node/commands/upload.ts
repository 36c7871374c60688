/**
 * `multi-token upload --model DIR --repo org/name [--private]`: the seed's `scripts/upload_model.py`. Creates the
 * model repository if needed and uploads the trained folder (model card included) in one commit, through
 * `@huggingface/hub` with `HF_TOKEN` and `HF_ENDPOINT` as everywhere else. The seed's short flags `-m` / `-r` and
 * its `--model_folder` work too.
 *
 * What goes up: every file of the folder except training leftovers (`checkpoint-*` folders, optimizer state,
 * half-written temp folders, dot files). Like the seed, a folder that holds only checkpoints (a run that never
 * finished) uploads its newest checkpoint's model files instead.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import * as path from 'node:path';
import type { Command } from 'commander';
import { createRepo, HubApiError, uploadFilesWithProgress } from '@huggingface/hub';
import { parseHubId } from '../../src/io/hub-id.js';
import { hubEnv, type HubEnv } from '../hub/hub-env.js';
import { listCheckpoints } from '../train/checkpoint.js';
import { bool } from './options.js';

export interface UploadOptions {
  model: string;
  repo: string;
  private?: boolean;
  revision?: string;
  message?: string;
}

/** Training leftovers that stay local. */
const SKIP = [/^checkpoint-\d+(\.(tmp|old)-.*)?$/, /^optimizer\.safetensors$/, /^\./, /\.(tmp|old)-/];

async function walk(root: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(path.join(root, rel), { withFileTypes: true })) {
    if (SKIP.some((r) => r.test(e.name))) continue;
    const p = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...(await walk(root, p)));
    else if (e.isFile() || (e.isSymbolicLink() && (await stat(path.join(root, p))).isFile())) out.push(p);
  }
  return out.sort();
}

/** The files to upload, as `[repo path, local file]`. */
export async function uploadPlan(dir: string): Promise<{ files: [string, string][]; from: string }> {
  const root = path.resolve(dir);
  if (!(await stat(root).catch(() => null))?.isDirectory()) throw new Error(`upload: ${root} is not a folder`);
  let from = root;
  if (!(await stat(path.join(root, 'config.json')).catch(() => null))) {
    const newest = (await listCheckpoints(root)).pop();
    if (!newest) throw new Error(`upload: ${root} has no config.json and no checkpoint-* folder: is it a trained model folder?`);
    from = newest.dir;
  }
  const files: [string, string][] = (await walk(from)).map((n) => [n, path.join(from, n)]);
  // A checkpoint-only upload still takes the model card from the top folder when there is one.
  if (from !== root && !files.some(([n]) => n === 'README.md') && (await stat(path.join(root, 'README.md')).catch(() => null))) {
    files.push(['README.md', path.join(root, 'README.md')]);
  }
  return { files, from };
}

/** Uploads a model folder; returns the commit. */
export async function uploadModel(o: UploadOptions, env: HubEnv = hubEnv(), log: (s: string) => void = (s) => process.stderr.write(`[multi-token] ${s}\n`)): Promise<{ commit?: string; files: string[] }> {
  const id = parseHubId(o.repo);
  if (!id || o.repo.includes('@')) throw new Error(`upload: --repo must be a repository id, org/name (got "${o.repo}")`);
  if (!env.token) throw new Error('upload: set HF_TOKEN (a token with write access) or log in with huggingface-cli login');
  const { files, from } = await uploadPlan(o.model);
  if (from !== path.resolve(o.model)) log(`${o.model} has no final model; uploading its newest checkpoint, ${path.basename(from)}`);
  if (!files.some(([n]) => n === 'README.md')) log('note: no README.md (model card) in the folder');
  const creds = { hubUrl: env.endpoint, accessToken: env.token as `hf_${string}` };
  try {
    await createRepo({ repo: { type: 'model', name: id.repo }, private: o.private ?? false, ...creds });
    log(`created ${o.private ? 'private ' : ''}repository ${id.repo} on ${env.endpoint}`);
  } catch (e) {
    // 409: it exists already (the seed's create_repo(exist_ok=True)).
    if (!(e instanceof HubApiError && e.statusCode === 409)) throw explain(e, id.repo);
  }
  const contents = await Promise.all(files.map(async ([name, file]) => ({ path: name, content: new Blob([await readFile(file)]) })));
  const bytes = contents.reduce((s, f) => s + f.content.size, 0);
  log(`uploading ${files.length} files (${(bytes / 1e6).toFixed(1)} MB) to ${id.repo}`);
  const done = new Set<string>();
  try {
    const it = uploadFilesWithProgress({ repo: { type: 'model', name: id.repo }, files: contents, branch: o.revision, commitTitle: o.message ?? 'Upload model trained with multi-token', ...creds });
    for (;;) {
      const r = await it.next();
      if (r.done) {
        log(`uploaded to ${env.endpoint}/${id.repo}${r.value?.commit.oid ? ` (commit ${r.value.commit.oid.slice(0, 8)})` : ''}`);
        return { commit: r.value?.commit.oid, files: files.map(([n]) => n) };
      }
      const ev = r.value;
      if (ev.event === 'fileProgress' && ev.state === 'uploading' && ev.progress >= 1 && !done.has(ev.path)) {
        done.add(ev.path);
        log(`  ${ev.path} (${done.size}/${files.length})`);
      }
    }
  } catch (e) {
    throw explain(e, id.repo);
  }
}

function explain(e: unknown, repo: string): Error {
  if (e instanceof HubApiError) {
    const hint = e.statusCode === 401 || e.statusCode === 403 ? ': does HF_TOKEN have write access to it?' : '';
    return new Error(`upload to ${repo}: HTTP ${e.statusCode} (${e.message.split('. URL:')[0]})${hint}`);
  }
  return e as Error;
}

export function registerUpload(program: Command): void {
  program
    .command('upload')
    .description("upload a trained model folder to the Hugging Face hub (the seed's upload_model.py); needs HF_TOKEN")
    .option('-m, --model <dir>', 'the trained model folder (alias --model_folder)')
    .option('--model_folder <dir>', "the seed's name for --model")
    .requiredOption('-r, --repo <org/name>', 'repository to create (if needed) and upload to')
    .option('--private [bool]', 'create the repository private', bool, false)
    .option('--revision <branch>', 'branch to commit to', 'main')
    .option('--message <text>', 'commit title')
    .action(async (o: UploadOptions & { model_folder?: string }) => {
      const model = o.model ?? o.model_folder;
      if (!model) throw new Error('upload: pass --model DIR (or -m)');
      await uploadModel({ ...o, model });
    });
}
