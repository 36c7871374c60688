// SwiGLU of M rows (prefill; decode fuses it into the gate|up matvec): out[m, j] = silu(g) · u with g, u the
// gate and up outputs, stored side by side as [M, 2F] (gate first).
//
// Host declares: bindings result (array<f32>, read_write, [M, F]), x (array<f32>, [M, 2F]); uniforms M, F.

@compute @workgroup_size(64)
fn swiglu(@builtin(global_invocation_id) gid : vec3<u32>, @builtin(num_workgroups) nwg : vec3<u32>) {
  let F = uniforms.F;
  let i = i32(gid.x + gid.y * nwg.x * 64u);
  if (i >= uniforms.M * F) {
    return;
  }
  let m = i / F;
  let j = i - m * F;
  let g = x[m * 2 * F + j];
  let u = x[m * 2 * F + F + j];
  result[i] = g * (1.0 / (1.0 + exp(-g))) * u;
}
