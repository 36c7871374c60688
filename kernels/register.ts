/**
 * Registers the project's WGSL kernels with tfjs and routes `mergeEmbeddings` through them on WebGPU.
 *
 * Safe to call before the webgpu backend exists (tfjs's kernel registry is keyed by backend name, not by a live
 * backend), in Node without WebGPU, and more than once. On any backend other than webgpu the installed fast
 * path declines, so `mergeEmbeddings` keeps using the reference tfjs ops there.
 */
import { tf } from '../src/tf.js';
import { configurePlatform } from '../src/platform.js';
import {
  EMBEDDING_MERGE_KERNEL,
  embeddingMergeGradConfig,
  embeddingMergeKernelConfig,
  mergeEmbeddingsWebGPU,
} from './embedding-merge.js';
import { EMBEDDING_TABLE_GRAD_KERNEL, embeddingTableGradKernelConfig } from './embedding-table-grad.js';
import { DEQUANT_MATMUL_KERNEL, dequantMatMulKernelConfig } from './dequant-matmul.js';
import { DEQUANTIZE_KERNEL, dequantizeKernelConfig } from './dequantize.js';
import { webgpuFrozenWeightPlacer } from './frozen-weight-webgpu.js';

/**
 * Registers the embedding-merge kernel (backend `webgpu`), its gradient and the table-gradient kernel that
 * gradient uses, the dequantizing matmul (`dequantMatMul`) and dequantize kernels; installs the merge as
 * `mergeEmbeddings`' fast path and the packed frozen-weight placer (int4/int8/f16/bf16 Linear weights stay packed on
 * the GPU; it declines off webgpu). Idempotent: the registry is touched once (tfjs warns on re-registration), while the fast path is
 * (re)installed on every call, so a caller that removed it with `configurePlatform({ fastMerge: null })` gets it back.
 */
export function registerWebGPUKernels(): void {
  if (!tf.getKernel(EMBEDDING_MERGE_KERNEL, 'webgpu')) tf.registerKernel(embeddingMergeKernelConfig);
  if (!tf.getKernel(EMBEDDING_TABLE_GRAD_KERNEL, 'webgpu')) tf.registerKernel(embeddingTableGradKernelConfig);
  if (!tf.getGradient(EMBEDDING_MERGE_KERNEL)) tf.registerGradient(embeddingMergeGradConfig);
  if (!tf.getKernel(DEQUANT_MATMUL_KERNEL, 'webgpu')) tf.registerKernel(dequantMatMulKernelConfig);
  if (!tf.getKernel(DEQUANTIZE_KERNEL, 'webgpu')) tf.registerKernel(dequantizeKernelConfig);
  configurePlatform({ fastMerge: mergeEmbeddingsWebGPU, frozenWeights: webgpuFrozenWeightPlacer });
}
