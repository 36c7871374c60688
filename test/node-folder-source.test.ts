import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { FolderSource, openSource } from '../node/folder-source.js';
import { MemorySource, ModelFileError, UrlSource, readJSON } from '../src/io/source.js';
import { serializeSafetensors } from '../src/io/safetensors.js';
import { readWeightFiles } from '../src/io/weights.js';
import { withTempDir } from './helpers/temp-dir.js';

test('FolderSource reads files and sub-paths, reports missing ones', async () => {
  await withTempDir('folder', async (dir) => {
    await mkdir(path.join(dir, 'sub'));
    await writeFile(path.join(dir, 'config.json'), '{"hidden_size": 8}');
    await writeFile(path.join(dir, 'sub', 'a.txt'), 'hi');
    const src = new FolderSource(dir);
    assert.equal(src.location, path.resolve(dir));
    assert.deepEqual(await readJSON(src, 'config.json'), { hidden_size: 8 });
    const bytes = await src.readFile('sub/a.txt');
    assert.equal(Object.getPrototypeOf(bytes), Uint8Array.prototype);
    assert.equal(new TextDecoder().decode(bytes), 'hi');
    assert.equal(await src.exists('config.json'), true);
    assert.equal(await src.exists('sub'), false); // a folder is not a model file
    assert.equal(await src.exists('nope.json'), false);
    await assert.rejects(src.readFile('nope.json'), (e: unknown) => {
      assert.ok(e instanceof ModelFileError);
      assert.equal(e.message, `missing file ${path.join(dir, 'nope.json')}`);
      return true;
    });
  });
});

test('FolderSource refuses names that escape the root', async () => {
  await withTempDir('folder', async (dir) => {
    const root = path.join(dir, 'model');
    await mkdir(root);
    await writeFile(path.join(dir, 'secret.txt'), 'no');
    const src = new FolderSource(root);
    for (const name of ['../x', '../secret.txt', 'a/../../secret.txt', '..', '/etc/passwd', 'C:/x', 'a\\..\\b', '', '.']) {
      await assert.rejects(src.readFile(name), ModelFileError, name);
      await assert.rejects(src.exists(name), ModelFileError, name);
    }
    await assert.rejects(src.readFile('../x'), {
      message: `refusing file name "../x" for ${root}: '..' would leave the model folder`,
    });
  });
});

test('FolderSource follows symlinks inside the folder (Hugging Face cache snapshots)', async () => {
  await withTempDir('folder', async (dir) => {
    await mkdir(path.join(dir, 'blobs'));
    await mkdir(path.join(dir, 'snapshot'));
    await writeFile(path.join(dir, 'blobs', 'abc123'), serializeSafetensors({}));
    await symlink(path.join('..', 'blobs', 'abc123'), path.join(dir, 'snapshot', 'model.safetensors'));
    const weights = await readWeightFiles(new FolderSource(path.join(dir, 'snapshot')));
    assert.equal(weights.size, 0);
  });
});

test('openSource: URLs → UrlSource, paths → FolderSource, sources pass through', () => {
  const url = openSource('https://example.org/models/tiny/');
  assert.ok(url instanceof UrlSource);
  assert.equal(url.location, 'https://example.org/models/tiny');
  assert.ok(openSource('HTTP://example.org/x') instanceof UrlSource);
  const folder = openSource('./models/tiny');
  assert.ok(folder instanceof FolderSource);
  assert.equal(folder.location, path.resolve('models/tiny'));
  const mem = new MemorySource({});
  assert.equal(openSource(mem), mem);
});
