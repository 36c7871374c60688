// Rotary position embedding and the KV-cache write, for M new positions p = state[1] + m:
//   q heads: rotated in place in the q|k|v rows (HF's rotate_half: x·cos + rotate_half(x)·sin)
//   k heads: rotated and written to kCache[kvHead, p, :]
//   v heads: copied to vCache[kvHead, p, :]
// One invocation per rotated pair or copied value. cos/sin come from a table the host computes once (angles
// in float32 as Hugging Face computes them, cos/sin in float64 then rounded), because WGSL's cos/sin are
// only accurate near [-π, π] and angles reach thousands of radians.
//
// Host declares: bindings qkv (array<f32>, read_write, [M, (H + 2·KVH)·hd]), kCache / vCache (array<f32>,
// read_write, [KVH, maxSeq, hd]), rope (array<f32>: cos [maxSeq, hd/2], then sin [maxSeq, hd/2]), state
// (array<i32>: [token, pos]); uniforms M, H, KVH, hd, maxSeq.

@compute @workgroup_size(64)
fn ropeKv(@builtin(global_invocation_id) gid : vec3<u32>, @builtin(num_workgroups) nwg : vec3<u32>) {
  let H = uniforms.H;
  let KVH = uniforms.KVH;
  let hd = uniforms.hd;
  let half = hd / 2;
  let perRow = (H + KVH) * half + KVH * hd;
  let i = i32(gid.x + gid.y * nwg.x * 64u);
  if (i >= uniforms.M * perRow) {
    return;
  }
  let m = i / perRow;
  var r = i - m * perRow;
  let p = state[1] + m;
  if (p >= uniforms.maxSeq) {
    return;
  }
  let row = m * (H + 2 * KVH) * hd;
  let sinBase = uniforms.maxSeq * half;
  if (r < H * half) {
    let h = r / half;
    let j = r - h * half;
    let a = row + h * hd + j;
    let x1 = qkv[a];
    let x2 = qkv[a + half];
    let c = rope[p * half + j];
    let s = rope[sinBase + p * half + j];
    qkv[a] = x1 * c - x2 * s;
    qkv[a + half] = x2 * c + x1 * s;
    return;
  }
  r -= H * half;
  if (r < KVH * half) {
    let kh = r / half;
    let j = r - kh * half;
    let a = row + H * hd + kh * hd + j;
    let x1 = qkv[a];
    let x2 = qkv[a + half];
    let c = rope[p * half + j];
    let s = rope[sinBase + p * half + j];
    let dst = (kh * uniforms.maxSeq + p) * hd + j;
    kCache[dst] = x1 * c - x2 * s;
    kCache[dst + half] = x2 * c + x1 * s;
    return;
  }
  r -= KVH * half;
  let vh = r / hd;
  let d = r - vh * hd;
  vCache[(vh * uniforms.maxSeq + p) * hd + d] = qkv[row + (H + KVH) * hd + vh * hd + d];
}
