/**
 * `make-tiny` at real dimensions: the vocabulary size is the one asked for (rows past the tiny tokenizer's
 * vocabulary are padding, as in real Qwen2 configs), weights can be BF16 like real checkpoints and are streamed
 * to disk (the path real sizes take), and the result loads and runs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, rm } from 'node:fs/promises';
import * as path from 'node:path';
import { tf } from '../src/tf.js';
import '../node/index.js';
import { tinyFiles } from '../node/commands/make-tiny.js';
import { writeDirAtomic } from '../node/atomic-write.js';
import { openSource } from '../node/folder-source.js';
import { loadLMM } from '../src/lmm/load.js';
import { parseSafetensors } from '../src/io/safetensors.js';
import { tmpDir } from './helpers/tiny-vector.js';

test('make-tiny --vocab_size 5000 --dtype BF16: config says 5000, weights are BF16, the model loads and runs', async () => {
  await tf.setBackend('cpu');
  const dir = path.join(await tmpDir('mt-real-'), 'm');
  try {
    await writeDirAtomic(dir, await tinyFiles({ out: dir, arch: 'qwen2', seed: 4, hidden_size: 32, intermediate_size: 64, layers: 2, heads: 4, kv_heads: 2, vocab_size: 5000, dtype: 'BF16' }));
    const config = JSON.parse(await readFile(path.join(dir, 'config.json'), 'utf8'));
    assert.equal(config.vocab_size, 5000);
    assert.equal(config.torch_dtype, 'bfloat16');
    const tokens = Object.keys(JSON.parse(await readFile(path.join(dir, 'tokenizer.json'), 'utf8')).model.vocab).length;
    assert.ok(tokens < 5000, `the tokenizer has ${tokens} tokens, fewer than the padded table`);
    const st = parseSafetensors(new Uint8Array(await readFile(path.join(dir, 'model.safetensors')))).tensors;
    assert.deepEqual(st.get('model.embed_tokens.weight')!.shape, [5000, 32]);
    assert.ok([...st.values()].every((t) => t.dtype === 'BF16'));
    const lmm = await loadLMM(dir, { open: openSource });
    const logits = lmm.lm.forward({ inputIds: tf.tensor2d([lmm.tokenizer.encode('hello there')], undefined, 'int32'), logits: 'last' }).logits!;
    assert.equal(logits.shape[2], 5000);
    assert.ok(Number.isFinite(tf.sum(logits).dataSync()[0]!));
    lmm.dispose();
  } finally {
    await rm(path.dirname(dir), { recursive: true, force: true });
  }
});

test('make-tiny: the --lmm-only flags without --lmm are an error that names them, not silently ignored', async () => {
  await assert.rejects(
    tinyFiles({ out: 'unused', arch: 'llama', seed: 0, projector_layers: 1, vision_layers: 2 }),
    /--projector_layers, --vision_layers only apply with --lmm/,
  );
});
