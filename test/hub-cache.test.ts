/**
 * Hugging Face ids as model locations: downloads through @huggingface/hub into the standard cache layout (what
 * Python's huggingface_hub reads and writes), revisions, HF_HUB_OFFLINE, HF_TOKEN, and reuse of a cache Python
 * wrote. Everything runs against the mock hub on 127.0.0.1.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, readFile, readlink, symlink, writeFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { MockHub } from './helpers/mock-hub.js';
import { HubSource } from '../node/hub/hub-source.js';
import { hubEnv, type HubEnv } from '../node/hub/hub-env.js';
import { FolderSource, openSource } from '../node/folder-source.js';
import { parseHubId } from '../src/io/hub-id.js';

const hub = new MockHub();
let tmp = '';
const quiet = () => {};
const weights = new Uint8Array(3000).map((_, i) => (i * 7) % 251);
let v1 = '';
let v2 = '';

before(async () => {
  await hub.start();
  tmp = await mkdtemp(path.join(tmpdir(), 'hub-cache-'));
  v1 = hub.publish('tiny-org/tiny-lm', { 'config.json': '{"v":1}', 'model.safetensors': weights, 'sub/dir/extra.json': '{}' });
  v2 = hub.publish('tiny-org/tiny-lm', { 'config.json': '{"v":2}' });
  hub.publish('tiny-org/gated', { 'config.json': '{"gated":true}' }, { private: true });
});
after(async () => {
  await hub.stop();
  await rm(tmp, { recursive: true, force: true });
});

const env = (cacheDir: string, extra: Partial<HubEnv> = {}): HubEnv => ({ endpoint: hub.url, cacheDir, offline: false, ...extra });
const text = (b: Uint8Array) => new TextDecoder().decode(b);

test('parseHubId: org/name[@rev] only', () => {
  assert.deepEqual(parseHubId('openai/clip-vit-large-patch14-336'), { repo: 'openai/clip-vit-large-patch14-336', revision: 'main' });
  assert.deepEqual(parseHubId('org/name@v1.0'), { repo: 'org/name', revision: 'v1.0' });
  for (const bad of ['name', './org/name', '/abs/path', 'a/b/c', 'https://x/y', 'org/..', '../x', 'org/name@']) assert.equal(parseHubId(bad), null, bad);
});

test('downloads into the standard cache layout: refs/main, snapshots/<commit>/ symlinks into blobs/ named as the hub names them', async () => {
  const cache = path.join(tmp, 'c1');
  const src = new HubSource(parseHubId('tiny-org/tiny-lm')!, env(cache), quiet);
  assert.equal(text(await src.readFile('config.json')), '{"v":2}');
  assert.deepEqual(await src.readFile('model.safetensors'), weights);
  assert.equal(await src.exists('sub/dir/extra.json'), true);
  assert.equal(await src.exists('nope.json'), false);
  const repo = path.join(cache, 'models--tiny-org--tiny-lm');
  assert.equal((await readFile(path.join(repo, 'refs', 'main'), 'utf8')).trim(), v2);
  const link = await readlink(path.join(repo, 'snapshots', v2, 'model.safetensors'));
  assert.equal(link, path.join('..', '..', 'blobs', createHash('sha256').update(weights).digest('hex')), 'LFS files are named by their SHA-256');
  const gitOid = createHash('sha1').update(Buffer.concat([Buffer.from('blob 7\0'), Buffer.from('{"v":2}')])).digest('hex');
  assert.equal(await readlink(path.join(repo, 'snapshots', v2, 'config.json')), path.join('..', '..', 'blobs', gitOid), 'small files by their git blob id');
  await assert.rejects(src.readFile('nope.json'), /missing file tiny-org\/tiny-lm\/nope.json/);
});

test('a second process reuses the cache (no file downloaded twice); HF_HUB_OFFLINE=1 needs no network at all', async () => {
  const cache = path.join(tmp, 'c2');
  await new HubSource(parseHubId('tiny-org/tiny-lm')!, env(cache), quiet).readFile('model.safetensors');
  const downloads = () => hub.requests.filter((r) => r.path.startsWith('/tiny-org/tiny-lm/resolve/') && r.method === 'GET').length;
  const before = downloads();
  assert.deepEqual(await new HubSource(parseHubId('tiny-org/tiny-lm')!, env(cache), quiet).readFile('model.safetensors'), weights);
  assert.equal(downloads(), before, 'served from the cache');
  const n = hub.requests.length;
  const off = new HubSource(parseHubId('tiny-org/tiny-lm')!, env(cache, { offline: true }), quiet);
  assert.deepEqual(await off.readFile('model.safetensors'), weights);
  assert.equal(await off.exists('model.safetensors'), true);
  assert.equal(await off.exists('config.json'), false, 'offline, exists() answers from the snapshot folder');
  assert.equal(hub.requests.length, n, 'offline: no request at all');
  await assert.rejects(off.readFile('config.json'), /missing file config.json in the cached tiny-org\/tiny-lm/);
  await assert.rejects(new HubSource(parseHubId('tiny-org/other')!, env(cache, { offline: true }), quiet).readFile('config.json'), /neither a local folder nor in the Hugging Face cache .*HF_HUB_OFFLINE/);
});

test('@revision: a commit hash or a branch; the ref is recorded for offline use', async () => {
  const cache = path.join(tmp, 'c3');
  assert.equal(text(await new HubSource(parseHubId(`tiny-org/tiny-lm@${v1}`)!, env(cache), quiet).readFile('config.json')), '{"v":1}');
  hub.publish('tiny-org/tiny-lm', { 'config.json': '{"v":"dev"}' }, { branch: 'dev' });
  assert.equal(text(await new HubSource(parseHubId('tiny-org/tiny-lm@dev')!, env(cache), quiet).readFile('config.json')), '{"v":"dev"}');
  assert.equal(text(await new HubSource(parseHubId('tiny-org/tiny-lm@dev')!, env(cache, { offline: true }), quiet).readFile('config.json')), '{"v":"dev"}');
  assert.equal(text(await new HubSource(parseHubId(`tiny-org/tiny-lm@${v1}`)!, env(cache, { offline: true }), quiet).readFile('config.json')), '{"v":1}');
});

test('gated/private models: a clear error without HF_TOKEN, and the token is sent when set', async () => {
  const cache = path.join(tmp, 'c4');
  await assert.rejects(new HubSource(parseHubId('tiny-org/gated')!, env(cache), quiet).readFile('config.json'), /HTTP 401 .*set HF_TOKEN/);
  const ok = new HubSource(parseHubId('tiny-org/gated')!, env(cache, { token: hub.token }), quiet);
  assert.equal(text(await ok.readFile('config.json')), '{"gated":true}');
  assert.ok(hub.requests.some((r) => r.path.startsWith('/tiny-org/gated/resolve/') && r.auth === `Bearer ${hub.token}`));
  await assert.rejects(new HubSource(parseHubId('nobody/nothing')!, env(cache), quiet).readFile('config.json'), /HTTP 404 .*nor a local folder/);
});

test("a cache Python's huggingface_hub wrote is used as is, online and offline", async () => {
  const cache = path.join(tmp, 'c5');
  const repo = path.join(cache, 'models--tiny-org--tiny-lm');
  const blob = createHash('sha256').update(weights).digest('hex');
  await mkdir(path.join(repo, 'blobs'), { recursive: true });
  await mkdir(path.join(repo, 'snapshots', v2), { recursive: true });
  await mkdir(path.join(repo, 'refs'), { recursive: true });
  await writeFile(path.join(repo, 'blobs', blob), weights);
  await symlink(path.join('..', '..', 'blobs', blob), path.join(repo, 'snapshots', v2, 'model.safetensors'));
  await writeFile(path.join(repo, 'refs', 'main'), v2);
  const before = hub.count('/tiny-org/tiny-lm/resolve/');
  assert.deepEqual(await new HubSource(parseHubId('tiny-org/tiny-lm')!, env(cache), quiet).readFile('model.safetensors'), weights);
  assert.deepEqual(await new HubSource(parseHubId('tiny-org/tiny-lm')!, env(cache, { offline: true }), quiet).readFile('model.safetensors'), weights);
  assert.equal(hub.count('/tiny-org/tiny-lm/resolve/'), before, 'nothing downloaded');
});

test('an unreachable hub falls back to the cache, with a note', async () => {
  const cache = path.join(tmp, 'c2');
  const notes: string[] = [];
  const src = new HubSource(parseHubId('tiny-org/tiny-lm')!, env(cache, { endpoint: 'http://127.0.0.1:9' }), (l) => notes.push(l));
  assert.deepEqual(await src.readFile('model.safetensors'), weights);
  assert.match(notes.join('\n'), /cannot reach http:\/\/127.0.0.1:9 .*using the cached tiny-org\/tiny-lm/);
});

test('openSource: an id that is not a local path is a hub model; a folder of the same spelling wins', async () => {
  assert.ok(openSource('tiny-org/definitely-not-a-folder') instanceof HubSource);
  const cwd = process.cwd();
  process.chdir(tmp);
  try {
    await mkdir(path.join(tmp, 'local-org', 'model'), { recursive: true });
    assert.ok(openSource('local-org/model') instanceof FolderSource);
  } finally {
    process.chdir(cwd);
  }
});

test('hubEnv reads the variables Python reads', async () => {
  const e = hubEnv({ HF_ENDPOINT: 'http://h:1/', HF_HOME: '/x/hf', HF_HUB_OFFLINE: 'ON', HF_TOKEN: ' hf_a ' });
  assert.deepEqual(e, { endpoint: 'http://h:1', cacheDir: '/x/hf/hub', offline: true, token: 'hf_a' });
  const tokenFile = path.join(tmp, 'token');
  await writeFile(tokenFile, 'hf_fromfile\n');
  assert.equal(hubEnv({ HF_TOKEN_PATH: tokenFile, HF_HUB_CACHE: '/c' }).token, 'hf_fromfile');
  assert.equal(hubEnv({ HF_HUB_CACHE: '/c', HF_HOME: '/x' }).cacheDir, '/c');
  assert.equal(hubEnv({ HF_HOME: '/nonexistent' }).offline, false);
});
