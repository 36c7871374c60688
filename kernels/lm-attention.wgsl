// Causal grouped-query attention of M new positions over the KV cache, one workgroup per (position, head):
//
//   out[m, h, :] = Σ_j softmax_j(q·k_j / sqrt(hd)) · v_j,   j from max(0, p − window + 1) to p = state[1] + m
//
// with query head h reading KV head h / (H / KVH), as HF's repeat_kv does. Keys are scored 64 at a time
// (one per lane) and the softmax is kept online (running max and sum, rescaling the accumulator), so any
// sequence length works with no score buffer, in one dispatch per layer.
//
// Host declares: bindings result (array<f32>, read_write, [M, H·hd]), qkv (array<f32>: q already rotated),
// kCache / vCache (array<f32>, [KVH, maxSeq, hd]), state (array<i32>); uniforms M, H, KVH, hd, maxSeq, window
// (0 = none), scale. Head sizes up to 256.

var<workgroup> qs : array<f32, 256>;
var<workgroup> red : array<f32, 64>;
var<workgroup> ps : array<f32, 64>;

@compute @workgroup_size(64)
fn attend(@builtin(workgroup_id) wid : vec3<u32>, @builtin(local_invocation_index) lid : u32) {
  let H = uniforms.H;
  let KVH = uniforms.KVH;
  let hd = uniforms.hd;
  let g = i32(wid.x);
  let m = g / H;
  let h = g - m * H;
  let kvh = h / (H / KVH);
  let t = i32(lid);
  let p = state[1] + m;
  let qBase = m * (H + 2 * KVH) * hd + h * hd;
  for (var d = t; d < hd; d += 64) {
    qs[d] = qkv[qBase + d];
  }
  var first = 0;
  if (uniforms.window > 0) {
    first = max(0, p - uniforms.window + 1);
  }
  var acc = array<f32, 4>(0.0, 0.0, 0.0, 0.0);
  var runMax = -1e30;
  var runSum = 0.0;
  workgroupBarrier();
  for (var j0 = first; j0 <= p; j0 += 64) {
    let j = j0 + t;
    var s = -1e30;
    if (j <= p) {
      let kBase = (kvh * uniforms.maxSeq + j) * hd;
      var dotv = 0.0;
      for (var d = 0; d < hd; d++) {
        dotv += qs[d] * kCache[kBase + d];
      }
      s = dotv * uniforms.scale;
    }
    red[t] = s;
    workgroupBarrier();
    for (var off = 32; off > 0; off >>= 1u) {
      if (t < off) {
        red[t] = max(red[t], red[t + off]);
      }
      workgroupBarrier();
    }
    let newMax = max(runMax, red[0]);
    let pj = select(0.0, exp(s - newMax), j <= p);
    workgroupBarrier();
    red[t] = pj;
    ps[t] = pj;
    workgroupBarrier();
    for (var off = 32; off > 0; off >>= 1u) {
      if (t < off) {
        red[t] += red[t + off];
      }
      workgroupBarrier();
    }
    let corr = exp(runMax - newMax);
    runSum = runSum * corr + red[0];
    let count = min(64, p - j0 + 1);
    for (var di = 0; di < 4; di++) {
      let d = t + 64 * di;
      if (d < hd) {
        var a = acc[di] * corr;
        for (var tt = 0; tt < count; tt++) {
          a += ps[tt] * vCache[(kvh * uniforms.maxSeq + j0 + tt) * hd + d];
        }
        acc[di] = a;
      }
    }
    runMax = newMax;
    workgroupBarrier();
  }
  for (var di = 0; di < 4; di++) {
    let d = t + 64 * di;
    if (d < hd) {
      result[m * H * hd + h * hd + d] = acc[di] / runSum;
    }
  }
}
