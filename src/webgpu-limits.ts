/**
 * Registers tfjs's webgpu backend with a device that asks for the adapter's own limits on storage buffers.
 *
 * tfjs-backend-webgpu 4.22 creates its device with WebGPU's default `maxStorageBuffersPerShaderStage` (8), so a
 * kernel may read at most 7 tensors although adapters offer more (SwiftShader 12, desktop GPUs 16–64+). The
 * trainer's reductions are chunked to whatever the device allows (`maxKernelInputs`); asking for the adapter's
 * limit makes the chunks fewer. tfjs lets a backend factory be replaced, and exports `WebGPUBackend`, so this
 * repeats its factory with the extra limit; everything else stays as tfjs sets it.
 */
import { tf } from './tf.js';

/** Replaces the registered `webgpu` factory, unless the backend is already initialised. Call after importing the backend. */
export async function registerWebGPUWithAdapterLimits(): Promise<void> {
  if (tf.findBackend('webgpu')) return; // initialised already: its device is fixed
  const { WebGPUBackend } = await import('@tensorflow/tfjs-backend-webgpu');
  tf.removeBackend('webgpu');
  tf.registerBackend('webgpu', async () => {
    const gpu = (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;
    if (!gpu) throw new Error('navigator.gpu missing');
    const lowPower = tf.env().getBool('WEBGPU_USE_LOW_POWER_GPU');
    const adapter = await gpu.requestAdapter({ powerPreference: lowPower ? 'low-power' : 'high-performance' });
    if (!adapter) throw new Error('requestAdapter() returned null');
    const limits = adapter.limits;
    const requiredFeatures = (['timestamp-query', 'bgra8unorm-storage'] as GPUFeatureName[]).filter((f) => adapter.features.has(f));
    const device = await adapter.requestDevice({
      requiredFeatures,
      requiredLimits: {
        maxComputeWorkgroupStorageSize: limits.maxComputeWorkgroupStorageSize,
        maxComputeWorkgroupsPerDimension: limits.maxComputeWorkgroupsPerDimension,
        maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
        maxBufferSize: limits.maxBufferSize,
        maxComputeWorkgroupSizeX: limits.maxComputeWorkgroupSizeX,
        maxComputeInvocationsPerWorkgroup: limits.maxComputeInvocationsPerWorkgroup,
        // The one tfjs leaves at the default.
        maxStorageBuffersPerShaderStage: limits.maxStorageBuffersPerShaderStage,
      },
    });
    return new WebGPUBackend(device, adapter.info);
  }, 3);
}
