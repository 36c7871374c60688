import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { writeDirAtomic, writeFileAtomic } from '../node/atomic-write.js';
import { withTempDir } from './helpers/temp-dir.js';

test('writeFileAtomic writes and replaces a file, leaving no temp files', async () => {
  await withTempDir('atomic', async (dir) => {
    const file = path.join(dir, 'config.json');
    await writeFileAtomic(file, '{"a": 1}');
    assert.equal(await readFile(file, 'utf8'), '{"a": 1}');
    await writeFileAtomic(file, new Uint8Array([1, 2, 3]));
    assert.deepEqual([...(await readFile(file))], [1, 2, 3]);
    assert.deepEqual(await readdir(dir), ['config.json']);
  });
});

test('writeFileAtomic cleans up its temp file when the rename fails', async () => {
  await withTempDir('atomic', async (dir) => {
    await mkdir(path.join(dir, 'taken'));
    await writeFile(path.join(dir, 'taken', 'x'), '');
    await assert.rejects(writeFileAtomic(path.join(dir, 'taken'), 'data')); // cannot rename a file over a non-empty folder
    assert.deepEqual(await readdir(dir), ['taken']);
  });
});

test('writeDirAtomic creates, then replaces, a checkpoint folder with no leftovers', async () => {
  await withTempDir('atomic', async (dir) => {
    const ckpt = path.join(dir, 'checkpoint-1');
    await writeDirAtomic(ckpt, new Map<string, Uint8Array | string>([
      ['config.json', '{}'],
      ['model.safetensors', new Uint8Array([1, 2])],
      ['sub/nested.txt', 'n'],
    ]));
    assert.deepEqual((await readdir(ckpt)).sort(), ['config.json', 'model.safetensors', 'sub']);
    assert.equal(await readFile(path.join(ckpt, 'sub', 'nested.txt'), 'utf8'), 'n');

    await writeDirAtomic(ckpt, new Map([['config.json', '{"v": 2}']]));
    assert.deepEqual(await readdir(ckpt), ['config.json']); // the old folder's files are gone, not merged
    assert.equal(await readFile(path.join(ckpt, 'config.json'), 'utf8'), '{"v": 2}');
    assert.deepEqual(await readdir(dir), ['checkpoint-1']);
  });
});

test('writeDirAtomic refuses escaping names and leaves the old folder and no temp folder', async () => {
  await withTempDir('atomic', async (dir) => {
    const ckpt = path.join(dir, 'ckpt');
    await writeDirAtomic(ckpt, new Map([['a.txt', 'old']]));
    for (const bad of ['../x', '/abs', 'a/../../x', '']) {
      await assert.rejects(writeDirAtomic(ckpt, new Map([['ok.txt', 'new'], [bad, 'x']])), /refusing file name/);
    }
    assert.deepEqual(await readdir(dir), ['ckpt']);
    assert.equal(await readFile(path.join(ckpt, 'a.txt'), 'utf8'), 'old');
  });
});
