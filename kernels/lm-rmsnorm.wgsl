// RMSNorm of M rows (prefill; decode folds the norm into the next matvec): out = x / sqrt(mean(x²) + eps) · γ,
// in float32 and in that order, as Hugging Face's LlamaRMSNorm. One workgroup of 64 lanes per row.
//
// Host declares: bindings result (array<f32>, read_write, [M, D]), x (array<f32>, [M, D]), gamma
// (array<f32>, [D]); uniforms M, D, eps.

var<workgroup> sums : array<f32, 64>;

@compute @workgroup_size(64)
fn rmsnorm(@builtin(workgroup_id) wid : vec3<u32>, @builtin(local_invocation_index) lid : u32) {
  let m = i32(wid.x);
  let D = uniforms.D;
  let t = i32(lid);
  var s = 0.0;
  if (m < uniforms.M) {
    for (var k = t; k < D; k += 64) {
      let v = x[m * D + k];
      s += v * v;
    }
  }
  sums[t] = s;
  workgroupBarrier();
  for (var off = 32; off > 0; off >>= 1u) {
    if (t < off) {
      sums[t] += sums[t + off];
    }
    workgroupBarrier();
  }
  if (m < uniforms.M) {
    let inv = inverseSqrt(sums[0] / f32(D) + uniforms.eps);
    for (var k = t; k < D; k += 64) {
      result[m * D + k] = x[m * D + k] * inv * gamma[k];
    }
  }
}
