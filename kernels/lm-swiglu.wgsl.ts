// Generated from kernels/lm-swiglu.wgsl (the source of truth): do not edit. Regenerate with
// UPDATE_WGSL=1 node --import tsx --test test/kernels-dequant.test.ts (the test fails while they differ).
// A string module, not a `?raw` import, so the same import works under tsx, tsc's dist build, and vite.

/** WGSL of the decode engine's SwiGLU kernel (prefill). */
export const LM_SWIGLU_WGSL = "// SwiGLU of M rows (prefill; decode fuses it into the gate|up matvec): out[m, j] = silu(g) · u with g, u the\n// gate and up outputs, stored side by side as [M, 2F] (gate first).\n//\n// Host declares: bindings result (array<f32>, read_write, [M, F]), x (array<f32>, [M, 2F]); uniforms M, F.\n\n@compute @workgroup_size(64)\nfn swiglu(@builtin(global_invocation_id) gid : vec3<u32>, @builtin(num_workgroups) nwg : vec3<u32>) {\n  let F = uniforms.F;\n  let i = i32(gid.x + gid.y * nwg.x * 64u);\n  if (i >= uniforms.M * F) {\n    return;\n  }\n  let m = i / F;\n  let j = i - m * F;\n  let g = x[m * 2 * F + j];\n  let u = x[m * 2 * F + F + j];\n  result[i] = g * (1.0 / (1.0 + exp(-g))) * u;\n}\n";
