/**
 * The dequant kernels (q4/q8 groups in the QUANT-LAYOUT.md layout, f16/bf16/f32 words) in Node: the CPU
 * reference against hand-computed values, then the WGSL kernels through tfjs-webgpu on Dawn + SwiftShader
 * against dequantize-then-tf.matMul (test/kernels-dequant-cases.ts). Skips the GPU part (saying why) where
 * Node has no WebGPU adapter, unless MULTI_TOKEN_REQUIRE_ALL=1.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { startNodeWebGPU } from './helpers/node-webgpu.js';
import { skipMissingTool } from './helpers/missing-tool.js';
import { checkGeneratedWgsl } from './helpers/generated-wgsl.js';
import { tf } from '../src/tf.js';
import { numberToF16Bits } from '../src/io/half-float.js';
import { DEQUANT_WGSL } from '../kernels/dequant.wgsl.js';
import { DEQUANT_MATVEC_WGSL } from '../kernels/dequant-matvec.wgsl.js';
import { DEQUANT_MATMUL_WGSL } from '../kernels/dequant-matmul.wgsl.js';
import { LM_EMBED_WGSL } from '../kernels/lm-embed.wgsl.js';
import { DEQUANTIZE_WGSL } from '../kernels/dequantize.wgsl.js';
import { LM_ROPE_KV_WGSL } from '../kernels/lm-rope-kv.wgsl.js';
import { LM_ATTENTION_WGSL } from '../kernels/lm-attention.wgsl.js';
import { LM_RMSNORM_WGSL } from '../kernels/lm-rmsnorm.wgsl.js';
import { LM_SWIGLU_WGSL } from '../kernels/lm-swiglu.wgsl.js';
import { LM_SAMPLE_WGSL } from '../kernels/lm-sample.wgsl.js';
import { dequantize, packQuantized, packedBytes, packedLayout } from '../kernels/packed-weight.js';
import { checkDequant, dequantCases, packRandom } from './kernels-dequant-cases.js';

const generated: Record<string, string> = {
  'dequant.wgsl': DEQUANT_WGSL,
  'dequant-matvec.wgsl': DEQUANT_MATVEC_WGSL,
  'dequant-matmul.wgsl': DEQUANT_MATMUL_WGSL,
  'dequantize.wgsl': DEQUANTIZE_WGSL,
  'lm-embed.wgsl': LM_EMBED_WGSL,
  'lm-rope-kv.wgsl': LM_ROPE_KV_WGSL,
  'lm-attention.wgsl': LM_ATTENTION_WGSL,
  'lm-rmsnorm.wgsl': LM_RMSNORM_WGSL,
  'lm-swiglu.wgsl': LM_SWIGLU_WGSL,
  'lm-sample.wgsl': LM_SAMPLE_WGSL,
};

test('kernels/{dequant*,lm-*}.wgsl.ts are generated from their .wgsl sources', () => {
  checkGeneratedWgsl(generated);
});

const f16 = (v: number) => [numberToF16Bits(v) & 255, numberToF16Bits(v) >> 8];

test('CPU dequantize reads the MatMulNBits layout: low nibble first, groups, zero points (hand-computed)', () => {
  // One row, K = 20, G = 16: two groups, the second padded to 16 codes (K zero-padded). (dequantize delegates
  // q4/q8 to real-node's dequantizeRows: this pins the packing around it.)
  const layout = packedLayout('q4', 1, 20, { groupSize: 16, hasZeros: true });
  assert.equal(layout.rowWords, 4);
  const qweight = new Uint8Array(16);
  qweight[0] = 0x21; // k0 = 1, k1 = 2
  qweight[1] = 0xf0; // k2 = 0, k3 = 15
  qweight[8] = 0x5a; // k16 = 10, k17 = 5 (group 1)
  const scales = Uint8Array.from([...f16(0.5), ...f16(-2)]);
  const qzeros = Uint8Array.of(0x73); // group 0 zero 3 (low nibble), group 1 zero 7
  const w = dequantize(packQuantized(layout, qweight, scales, qzeros));
  assert.deepEqual(Array.from(w.subarray(0, 4)), [(1 - 3) * 0.5, (2 - 3) * 0.5, (0 - 3) * 0.5, (15 - 3) * 0.5]);
  assert.equal(w[4], -1.5); // code 0 with zero 3
  assert.deepEqual(Array.from(w.subarray(16, 20)), [(10 - 7) * -2, (5 - 7) * -2, 14, 14]);

  // q8, symmetric: zero point 128.
  const l8 = packedLayout('q8', 2, 4, { groupSize: 4 });
  const w8 = dequantize(packQuantized(l8, Uint8Array.of(128, 129, 0, 255, 130, 126, 128, 128), Uint8Array.from([...f16(0.25), ...f16(1)]), null));
  assert.deepEqual(Array.from(w8), [0, 0.25, -32, 31.75, 2, -2, 0, 0]);
});

test('packed layouts: group sizes that are not whole words are refused with the tensor named; byte counts checked', () => {
  assert.throws(() => packedLayout('q4', 4, 64, { groupSize: 12, name: 'model.layers.0.mlp.up_proj' }), /up_proj.*group size 12.*multiple of 8/);
  const l = packedLayout('q4', 3, 100, { groupSize: 32, hasZeros: true });
  assert.deepEqual([l.nBlocks, l.rowWords, l.zeroRowBytes], [4, 16, 2]);
  assert.equal(packedBytes(l), 4 * (48 + 6 + 2));
  assert.throws(() => packQuantized(l, new Uint8Array(10), new Uint8Array(24), new Uint8Array(6), 'p'), /p\.qweight: 10 bytes.*needs 192/);
  assert.equal(packedLayout('f16', 2, 6).rowWords, 4); // rows padded to 8 halves
});

let skip: string | false = false;
before(async () => {
  skip = await startNodeWebGPU({ tfjsBackend: true });
});

test('dequant matvec/matmul kernels equal dequantize-then-tf.matMul on webgpu (every format, odd sizes)', { timeout: 120_000 }, async (t) => {
  if (skip) return skipMissingTool(t, skip);
  const cases = dequantCases();
  let worst = 0;
  for (const [i, c] of cases.entries()) {
    // Both matvec shapes (the matmul cases run the one tiled kernel either way).
    for (const shape of c.M <= 8 ? (['lanes', 'rows'] as const) : ([undefined] as const)) {
      const r = await checkDequant(c, 100 + i, shape);
      assert.equal(r.error, undefined, r.error ?? '');
      worst = Math.max(worst, r.worst);
    }
  }
  t.diagnostic(`${cases.length} cases, matvec ones in both shapes (lanes, rows), within tolerance (worst ${worst.toFixed(3)} of it)`);
});

test('dequantMatMul runs the kernel on webgpu (one launch, no float copy of W)', async (t) => {
  if (skip) return skipMissingTool(t, skip);
  const c = { name: 'profile', format: 'q4' as const, M: 1, N: 16, K: 64, groupSize: 32, zeros: true };
  const { packedToTensors, dequantMatMul, disposePacked } = await import('../kernels/dequant-matmul.js');
  const pt = packedToTensors(packRandom(c, 1));
  const x = tf.ones([1, 64]) as tf.Tensor2D;
  const profile = await tf.profile(() => dequantMatMul(x, pt));
  const names = profile.kernelNames.filter((k) => k !== 'Fill');
  assert.deepEqual(names, ['MultiTokenDequantMatMul'], `kernels run: ${profile.kernelNames.join(', ')}`);
  disposePacked(pt);
  x.dispose();
});
