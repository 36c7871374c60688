/**
 * WebGPU in Node through the npm `webgpu` package (Dawn), for the optional `webgpu` backend and for tests.
 *
 * With no GPU, Dawn needs a Vulkan driver it accepts: the SwiftShader ICD that Debian's `chromium` package ships
 * (`/usr/lib/chromium/vk_swiftshader_icd.json`; Mesa's lavapipe is refused). Dawn also needs the Vulkan *loader*
 * `libvulkan.so.1`; Debian's chromium carries its own copy next to the ICD, so we preload that one when the
 * system has none (`libvulkan1` not installed) instead of asking for one more apt package.
 *
 * tfjs's webgpu backend registers itself only if `navigator.gpu` exists when its module is first evaluated, so
 * call {@link initNodeWebGPU} before `import('@tensorflow/tfjs-backend-webgpu')`.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** Where Debian's `chromium` package puts its SwiftShader Vulkan ICD manifest. */
export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

/** Result of {@link initNodeWebGPU}: an adapter description, or why there is no WebGPU. */
export type NodeWebGPUStatus = { ok: true; adapterInfo: string } | { ok: false; reason: string };

let pending: Promise<NodeWebGPUStatus> | undefined;

/**
 * Makes `globalThis.navigator.gpu` (and the `GPU*` globals such as `GPUBufferUsage`) available in Node and checks
 * that an adapter can be had. Idempotent: later calls return the first call's result.
 *
 * Sets `VK_ICD_FILENAMES` to {@link SWIFTSHADER_ICD} only when the variable is unset and the file exists, so a
 * user with a real GPU driver can point it elsewhere (or set it to their own ICD) before starting Node.
 */
export function initNodeWebGPU(): Promise<NodeWebGPUStatus> {
  pending ??= init().catch((err: unknown) => ({ ok: false as const, reason: firstLine(err) }));
  return pending;
}

async function init(): Promise<NodeWebGPUStatus> {
  const g = globalThis as { navigator?: { gpu?: GPU } };
  if (g.navigator?.gpu) {
    // Someone (a test, a browser-like host) installed WebGPU already: use theirs.
    const adapter = await g.navigator.gpu.requestAdapter();
    return adapter
      ? { ok: true, adapterInfo: adapterLine(adapter) }
      : { ok: false, reason: 'navigator.gpu was already set, but requestAdapter() returned null' };
  }

  if (process.env.VK_ICD_FILENAMES === undefined && existsSync(SWIFTSHADER_ICD)) {
    process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
  }
  const icd = process.env.VK_ICD_FILENAMES;
  const loader = hasSystemVulkanLoader() || preloadVulkanLoader(join(dirname(SWIFTSHADER_ICD), 'libvulkan.so.1'));

  let mod: { create(flags: string[]): GPU; globals: object };
  try {
    mod = (await import('webgpu')) as unknown as typeof mod;
  } catch (err) {
    return { ok: false, reason: `npm package "webgpu" failed to load: ${firstLine(err)}` };
  }
  const gpu = mod.create([]);
  const adapter = await gpu.requestAdapter();
  if (!adapter) {
    const hints = [
      icd ? `VK_ICD_FILENAMES=${icd}` : `no ${SWIFTSHADER_ICD} (apt-get install chromium) and VK_ICD_FILENAMES unset`,
    ];
    if (!loader) hints.push('no Vulkan loader libvulkan.so.1 (apt-get install chromium, or libvulkan1)');
    const hint = hints.join('; ');
    return { ok: false, reason: `requestAdapter() returned null (${hint})` };
  }

  Object.assign(globalThis, mod.globals);
  // Node >= 21 has its own `navigator` (a getter on globalThis), Node 20 has none: add `gpu` either way.
  if (g.navigator) Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true, writable: true });
  else Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
  return { ok: true, adapterInfo: adapterLine(adapter) };
}

/** True if the system has a Vulkan loader (Debian `libvulkan1`) in a usual folder, or is not Linux (not our job). */
function hasSystemVulkanLoader(): boolean {
  if (process.platform !== 'linux') return true;
  const triple = { x64: 'x86_64-linux-gnu', arm64: 'aarch64-linux-gnu' }[process.arch as string] ?? '';
  const dirs = [`/usr/lib/${triple}`, `/lib/${triple}`, '/usr/lib64', '/usr/lib', '/lib64', '/lib'];
  return dirs.some((d) => existsSync(join(d, 'libvulkan.so.1')));
}

/**
 * Loads chromium's bundled Vulkan loader so that Dawn's later `dlopen("libvulkan.so.1")` finds it by soname.
 * `process.dlopen` is meant for addons: it throws "did not self-register" and dlcloses the library, but
 * RTLD_NODELETE (0x1000 in glibc; Node does not export the constant) keeps it mapped.
 *
 * @returns false if there is no such file.
 */
function preloadVulkanLoader(path: string): boolean {
  if (!existsSync(path)) return false;
  const RTLD_NODELETE = 0x1000;
  try {
    process.dlopen({ exports: {} } as NodeJS.Module, path, RTLD_NODELETE | 2 /* RTLD_NOW */);
  } catch {
    // Expected ("Module did not self-register"); the library stays loaded.
  }
  return true;
}

/** One line such as `google swiftshader (SwiftShader driver 5.0.0; swiftshader-device-subzero-; fallback)`. */
function adapterLine(adapter: GPUAdapter): string {
  const info = adapter.info;
  const fallback = (info as { isFallbackAdapter?: boolean }).isFallbackAdapter;
  const details = [info.description, info.device, fallback ? 'fallback' : ''].filter((s) => s).join('; ');
  return `${info.vendor || 'unknown vendor'} ${info.architecture || 'unknown architecture'}` +
    (details ? ` (${details})` : '');
}

function firstLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.split('\n')[0] ?? msg;
}
