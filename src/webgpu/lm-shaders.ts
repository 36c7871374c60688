/**
 * The decode engine's WGSL: each kernel's bindings and uniform struct, in front of its source from kernels/.
 * The dequant matvec/matmul sources are the same text the tfjs kernels run (kernels/dequant-source.ts); only
 * the host part differs (here: explicit bindings, a gamma buffer for the fused norm, and a residual add).
 */
import type { PackedFormat } from '../../kernels/packed-weight.js';
import { DEQUANT_UNIFORM_FIELDS, DEQUANT_WG_SIZE, matmulSource, matvecSource, type MatVecFusion, type MatVecShape } from '../../kernels/dequant-source.js';
import { DEQUANT_WGSL } from '../../kernels/dequant.wgsl.js';
import { FORMAT_CODE } from '../../kernels/packed-weight.js';
import { LM_EMBED_WGSL } from '../../kernels/lm-embed.wgsl.js';
import { LM_ROPE_KV_WGSL } from '../../kernels/lm-rope-kv.wgsl.js';
import { LM_ATTENTION_WGSL } from '../../kernels/lm-attention.wgsl.js';
import { LM_RMSNORM_WGSL } from '../../kernels/lm-rmsnorm.wgsl.js';
import { LM_SWIGLU_WGSL } from '../../kernels/lm-swiglu.wgsl.js';
import { LM_SAMPLE_WGSL } from '../../kernels/lm-sample.wgsl.js';
import type { BindingKind } from './gpu-context.js';

/** A kernel ready to compile: code, entry point and the kinds of its bindings (in binding order). */
export interface KernelSource {
  label: string;
  code: string;
  entryPoint: string;
  bindings: readonly BindingKind[];
}

type Field = readonly [string, 'i32' | 'u32' | 'f32'];

/** A uniform struct's WGSL. */
function struct(name: string, fields: readonly Field[]): string {
  return `struct ${name} {\n${fields.map(([n, t]) => `  ${n} : ${t},`).join('\n')}\n};\n`;
}

/** Packs uniform values (all 4-byte scalars, in struct order) into a buffer padded to 16 bytes. */
export function uniformData(fields: readonly Field[], values: Record<string, number>): ArrayBuffer {
  const buf = new ArrayBuffer(Math.ceil((fields.length * 4) / 16) * 16);
  const view = new DataView(buf);
  fields.forEach(([n, t], i) => {
    const v = values[n];
    if (v === undefined) throw new Error(`uniform ${n} has no value`);
    if (t === 'f32') view.setFloat32(4 * i, v, true);
    else if (t === 'u32') view.setUint32(4 * i, v >>> 0, true);
    else view.setInt32(4 * i, v, true);
  });
  return buf;
}

/** How f16 pairs are widened: a bitcast with shader-f16, unpack2x16float without. */
function halfHook(shaderF16: boolean): string {
  return shaderF16
    ? 'fn unpackHalf2(v : u32) -> vec2<f32> {\n  return vec2<f32>(bitcast<vec2<f16>>(v));\n}\n'
    : 'fn unpackHalf2(v : u32) -> vec2<f32> {\n  return unpack2x16float(v);\n}\n';
}

function enableF16(shaderF16: boolean): string {
  return shaderF16 ? 'enable f16;\n' : '';
}

export const DEQUANT_FIELDS: readonly Field[] = DEQUANT_UNIFORM_FIELDS;
export const DEQUANT_BINDINGS: readonly BindingKind[] = ['rw', 'r', 'r', 'r', 'r', 'r', 'r', 'uniform'];

function dequantHost(shaderF16: boolean, residual: boolean): string {
  return `${enableF16(shaderF16)}${struct('Uniforms', DEQUANT_FIELDS)}
@group(0) @binding(0) var<storage, read_write> result : array<f32>;
@group(0) @binding(1) var<storage, read> x : array<f32>;
@group(0) @binding(2) var<storage, read> w : array<i32>;
@group(0) @binding(3) var<storage, read> scales : array<i32>;
@group(0) @binding(4) var<storage, read> zeros : array<i32>;
@group(0) @binding(5) var<storage, read> bias : array<f32>;
@group(0) @binding(6) var<storage, read> gamma : array<f32>;
@group(0) @binding(7) var<uniform> uniforms : Uniforms;
${halfHook(shaderF16)}
fn loadGamma(k : i32) -> f32 {
  return gamma[k];
}
fn storeOut(i : i32, v : f32) {
  result[i] = ${residual ? 'result[i] + v' : 'v'};
}
`;
}

/** Flat workgroup-major invocation index, as tfjs-webgpu passes it to `main(index)`. */
const START = `
@compute @workgroup_size(${DEQUANT_WG_SIZE})
fn start(@builtin(workgroup_id) wid : vec3<u32>, @builtin(num_workgroups) nwg : vec3<u32>, @builtin(local_invocation_index) lidx : u32) {
  main(i32((wid.z * nwg.x * nwg.y + wid.y * nwg.x + wid.x) * ${DEQUANT_WG_SIZE}u + lidx));
}
`;

/** The dequant matvec (M rows of x), optionally with the fused norm / SwiGLU and a residual add. */
export function matvecKernel(format: PackedFormat, M: number, fusion: MatVecFusion & { residual?: boolean }, shaderF16: boolean, shape: MatVecShape = 'lanes'): KernelSource {
  const tag = [fusion.norm ? 'norm' : '', fusion.swiglu ? 'swiglu' : '', fusion.residual ? 'residual' : ''].filter(Boolean).join('+');
  return {
    label: `matvec ${format} M${M} ${shape}${tag ? ` ${tag}` : ''}`,
    code: dequantHost(shaderF16, !!fusion.residual) + matvecSource(format, M, fusion, shape) + START,
    entryPoint: 'start',
    bindings: DEQUANT_BINDINGS,
  };
}

/** The dequant tiled matmul, optionally with a residual add. */
export function matmulKernel(format: PackedFormat, residual: boolean, shaderF16: boolean): KernelSource {
  return {
    label: `matmul ${format}${residual ? ' residual' : ''}`,
    code: dequantHost(shaderF16, residual) + matmulSource(format) + START,
    entryPoint: 'start',
    bindings: DEQUANT_BINDINGS,
  };
}

export const EMBED_FIELDS: readonly Field[] = [
  ['M', 'i32'], ['D', 'i32'], ['V', 'i32'], ['idBase', 'i32'], ['rowWords', 'i32'], ['groupSize', 'i32'],
  ['nBlocks', 'i32'], ['zeroRowBytes', 'i32'], ['hasZeros', 'i32'],
];

export function embedKernel(format: PackedFormat, shaderF16: boolean): KernelSource {
  const code = `${enableF16(shaderF16)}${struct('Uniforms', EMBED_FIELDS)}
@group(0) @binding(0) var<storage, read_write> result : array<f32>;
@group(0) @binding(1) var<storage, read> ids : array<i32>;
@group(0) @binding(2) var<storage, read> w : array<i32>;
@group(0) @binding(3) var<storage, read> scales : array<i32>;
@group(0) @binding(4) var<storage, read> zeros : array<i32>;
@group(0) @binding(5) var<storage, read> projected : array<f32>;
@group(0) @binding(6) var<uniform> uniforms : Uniforms;
${halfHook(shaderF16)}
const FORMAT : i32 = ${FORMAT_CODE[format]};
${DEQUANT_WGSL}
${LM_EMBED_WGSL}`;
  return { label: `embed ${format}`, code, entryPoint: 'embed', bindings: ['rw', 'r', 'r', 'r', 'r', 'r', 'uniform'] };
}

export const ROPE_FIELDS: readonly Field[] = [['M', 'i32'], ['H', 'i32'], ['KVH', 'i32'], ['hd', 'i32'], ['maxSeq', 'i32']];

export function ropeKvKernel(): KernelSource {
  const code = `${struct('Uniforms', ROPE_FIELDS)}
@group(0) @binding(0) var<storage, read_write> qkv : array<f32>;
@group(0) @binding(1) var<storage, read_write> kCache : array<f32>;
@group(0) @binding(2) var<storage, read_write> vCache : array<f32>;
@group(0) @binding(3) var<storage, read> rope : array<f32>;
@group(0) @binding(4) var<storage, read> state : array<i32>;
@group(0) @binding(5) var<uniform> uniforms : Uniforms;
${LM_ROPE_KV_WGSL}`;
  return { label: 'rope+kv', code, entryPoint: 'ropeKv', bindings: ['rw', 'rw', 'rw', 'r', 'r', 'uniform'] };
}

export const ATTENTION_FIELDS: readonly Field[] = [
  ['M', 'i32'], ['H', 'i32'], ['KVH', 'i32'], ['hd', 'i32'], ['maxSeq', 'i32'], ['window', 'i32'], ['scale', 'f32'],
];

export function attentionKernel(): KernelSource {
  const code = `${struct('Uniforms', ATTENTION_FIELDS)}
@group(0) @binding(0) var<storage, read_write> result : array<f32>;
@group(0) @binding(1) var<storage, read> qkv : array<f32>;
@group(0) @binding(2) var<storage, read> kCache : array<f32>;
@group(0) @binding(3) var<storage, read> vCache : array<f32>;
@group(0) @binding(4) var<storage, read> state : array<i32>;
@group(0) @binding(5) var<uniform> uniforms : Uniforms;
${LM_ATTENTION_WGSL}`;
  return { label: 'attention', code, entryPoint: 'attend', bindings: ['rw', 'r', 'r', 'r', 'r', 'uniform'] };
}

export const RMSNORM_FIELDS: readonly Field[] = [['M', 'i32'], ['D', 'i32'], ['eps', 'f32']];

export function rmsnormKernel(): KernelSource {
  const code = `${struct('Uniforms', RMSNORM_FIELDS)}
@group(0) @binding(0) var<storage, read_write> result : array<f32>;
@group(0) @binding(1) var<storage, read> x : array<f32>;
@group(0) @binding(2) var<storage, read> gamma : array<f32>;
@group(0) @binding(3) var<uniform> uniforms : Uniforms;
${LM_RMSNORM_WGSL}`;
  return { label: 'rmsnorm', code, entryPoint: 'rmsnorm', bindings: ['rw', 'r', 'r', 'uniform'] };
}

export const SWIGLU_FIELDS: readonly Field[] = [['M', 'i32'], ['F', 'i32']];

export function swigluKernel(): KernelSource {
  const code = `${struct('Uniforms', SWIGLU_FIELDS)}
@group(0) @binding(0) var<storage, read_write> result : array<f32>;
@group(0) @binding(1) var<storage, read> x : array<f32>;
@group(0) @binding(2) var<uniform> uniforms : Uniforms;
${LM_SWIGLU_WGSL}`;
  return { label: 'swiglu', code, entryPoint: 'swiglu', bindings: ['rw', 'r', 'uniform'] };
}

export const SAMPLE_FIELDS: readonly Field[] = [
  ['temperature', 'f32'], ['topK', 'u32'], ['topP', 'f32'], ['seed', 'u32'], ['advance', 'u32'], ['V', 'u32'],
];

/** The sampler's entry points, in dispatch order (kernels/lm-sample.wgsl). */
export const SAMPLE_STAGES = ['sampleMax', 'sampleWindows', 'sampleSorted', 'sampleCuts', 'sampleDraw'] as const;

export function sampleKernel(stage: (typeof SAMPLE_STAGES)[number]): KernelSource {
  const code = `${struct('Params', SAMPLE_FIELDS)}
@group(0) @binding(0) var<storage, read> logits : array<f32>;
@group(0) @binding(1) var<storage, read_write> state : array<i32>;
@group(0) @binding(2) var<storage, read_write> scratch : array<u32>;
@group(0) @binding(3) var<uniform> params : Params;
${LM_SAMPLE_WGSL}`;
  return { label: stage, code, entryPoint: stage, bindings: ['r', 'rw', 'rw', 'uniform'] };
}
