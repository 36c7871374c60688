// Dequantizing matrix-vector product for decode (M = 1 ... 8 rows of x):
//
//   out[m, u] = Σ_k x[m, k] · W[u, k]  (+ bias[u])
//
// with W packed (kernels/dequant.wgsl, included before this). Two fusions the decode engine uses, off in the
// plain tfjs kernel:
//   NORM    RMSNorm of x folded in: out = (Σ_k x·γ[k]·W[u,k]) / sqrt(mean_k x² + eps). The sum of squares
//           comes out of the same loop over k, so the norm costs no extra pass and no dispatch.
//   SWIGLU  W holds 2·units rows (gate rows, then up rows): out[m, u] = silu(gate_u · x) · (up_u · x), so
//           the MLP's gate and up projections and its activation are one dispatch.
//
// The host declares, besides what dequant.wgsl needs: consts M_ROWS, LANES (1: the row-serial variant below),
// ROWS_PER_WG (workgroup size = LANES · ROWS_PER_WG), NORM, SWIGLU; bindings x (array<f32>, [M, K]) and bias (array<f32>); uniforms units,
// K, hasBias, eps; `fn loadGamma(k) -> f32` (γ of the norm) and `fn storeOut(i, v)` (out[i] = v, or += v for a
// residual). The host's `main(index)` calls mainLanes or mainRowSerial with the flat invocation index,
// workgroup-major (as tfjs-webgpu calls it), so only one of them is compiled.
//
// Each workgroup computes ROWS_PER_WG outputs; the LANES lanes of an output stride through its row in units
// of 4 k and are summed at the end, so a row's words are read by neighbouring lanes.

const WG_SIZE : i32 = LANES * ROWS_PER_WG;

// Per thread and row of x: the dot product, the up-row dot product (SWIGLU) and Σx² (NORM).
var<workgroup> partials : array<f32, WG_SIZE * M_ROWS * 3>;

// x[m, k ... k+3], zero past K (reads past the row are masked, not branched around: this is the inner loop).
fn loadX4(m : i32, k : i32) -> vec4<f32> {
  let i = m * uniforms.K + k;
  let v = vec4<f32>(x[i], x[i + 1], x[i + 2], x[i + 3]);
  return select(vec4<f32>(0.0), v, vec4<i32>(k) + vec4<i32>(0, 1, 2, 3) < vec4<i32>(uniforms.K));
}

fn gamma4(k : i32) -> vec4<f32> {
  let g = vec4<f32>(loadGamma(k), loadGamma(k + 1), loadGamma(k + 2), loadGamma(k + 3));
  return select(vec4<f32>(0.0), g, vec4<i32>(k) + vec4<i32>(0, 1, 2, 3) < vec4<i32>(uniforms.K));
}

// Σ x·q over the 8 nibbles of a q4 word: the low four against x0, the high four against x1.
fn nibbleDot(v : u32, x0 : vec4<f32>, x1 : vec4<f32>) -> f32 {
  let lo = vec4<f32>(f32(v & 15u), f32((v >> 4u) & 15u), f32((v >> 8u) & 15u), f32((v >> 12u) & 15u));
  let hi = vec4<f32>(f32((v >> 16u) & 15u), f32((v >> 20u) & 15u), f32((v >> 24u) & 15u), f32(v >> 28u));
  return dot(lo, x0) + dot(hi, x1);
}

// One output per invocation, its whole row in a loop over quantization groups: the scale and zero point are
// read once per group, and there is no cross-lane reduction, hence no barrier. For CPU implementations of
// WebGPU (SwiftShader), where a workgroup barrier costs ~0.1 ms and workgroups run serially; on GPUs the lanes
// path below reads each row with neighbouring lanes (coalesced) and is the one to use.
fn mainRowSerial(index : i32) {
  let units = uniforms.units;
  let u = index;
  if (u >= units) {
    return;
  }
  let up = u + units;
  let K = uniforms.K;
  let kUnits = (K + 3) / 4;
  let G = uniforms.groupSize;
  let groupUnits = G / 4;
  let nGroups = (kUnits + groupUnits - 1) / groupUnits;
  for (var m = 0; m < M_ROWS; m++) {
    var a = 0.0;
    var g = 0.0;
    var ss = 0.0;
    for (var b = 0; b < nGroups; b++) {
      let s0 = scaleAt(u, b);
      let z0 = zeroAt(u, b);
      var s1 = 0.0;
      var z1 = 0.0;
      if (SWIGLU) {
        s1 = scaleAt(up, b);
        z1 = zeroAt(up, b);
      }
      var qa = 0.0;
      var qg = 0.0;
      var xs = 0.0;
      let c1 = min(b * groupUnits + groupUnits, kUnits);
      // q4 reads a whole word (8 k, two units) per step; past K, x is zero and the word is row padding.
      let step = select(1, 2, FORMAT == FMT_Q4);
      for (var c = b * groupUnits; c < c1; c += step) {
        var xv = loadX4(m, 4 * c);
        var xw = vec4<f32>(0.0);
        if (FORMAT == FMT_Q4) {
          xw = loadX4(m, 4 * c + 4);
        }
        if (NORM) {
          ss += dot(xv, xv) + dot(xw, xw);
          xv = xv * gamma4(4 * c);
          if (FORMAT == FMT_Q4) {
            xw = xw * gamma4(4 * c + 4);
          }
        }
        if (FORMAT == FMT_Q4) {
          qa += nibbleDot(wordAt(u * uniforms.rowWords + (c >> 1u)), xv, xw);
          if (SWIGLU) {
            qg += nibbleDot(wordAt(up * uniforms.rowWords + (c >> 1u)), xv, xw);
          }
        } else {
          qa += dot(rawUnit(u, c), xv);
          if (SWIGLU) {
            qg += dot(rawUnit(up, c), xv);
          }
        }
        xs += dot(xv + xw, vec4<f32>(1.0));
      }
      // Σ x·(q − z)·s over the group = s·(Σ x·q − z·Σ x).
      a += s0 * (qa - z0 * xs);
      if (SWIGLU) {
        g += s1 * (qg - z1 * xs);
      }
    }
    finish(m, u, a, g, ss);
  }
}

// out[m, u] from the dot products: the norm's 1/rms, bias, SwiGLU, then the host's store.
fn finish(m : i32, u : i32, a : f32, g : f32, ss : f32) {
  let units = uniforms.units;
  var inv = 1.0;
  if (NORM) {
    inv = inverseSqrt(ss / f32(uniforms.K) + uniforms.eps);
  }
  var y = a * inv;
  if (uniforms.hasBias != 0) {
    y += bias[u];
  }
  if (SWIGLU) {
    var upv = g * inv;
    if (uniforms.hasBias != 0) {
      upv += bias[u + units];
    }
    y = y * (1.0 / (1.0 + exp(-y))) * upv;
  }
  storeOut(m * units + u, y);
}

fn mainLanes(index : i32) {
  let wgi = index / WG_SIZE;
  let t = index - wgi * WG_SIZE;
  let slot = t / LANES;
  let lane = t - slot * LANES;
  let units = uniforms.units;
  let u = wgi * ROWS_PER_WG + slot;
  let valid = u < units;

  var dot0 : array<f32, M_ROWS>;
  var dot1 : array<f32, M_ROWS>;
  var sumsq : array<f32, M_ROWS>;
  if (valid) {
    let up = u + units;
    let kUnits = (uniforms.K + 3) / 4;
    for (var c = lane; c < kUnits; c += LANES) {
      let k = 4 * c;
      let b = k / uniforms.groupSize;
      let q0 = rawUnit(u, c);
      let s0 = scaleAt(u, b);
      let z0 = zeroAt(u, b);
      var q1 = vec4<f32>(0.0);
      var s1 = 0.0;
      var z1 = 0.0;
      if (SWIGLU) {
        q1 = rawUnit(up, c);
        s1 = scaleAt(up, b);
        z1 = zeroAt(up, b);
      }
      for (var m = 0; m < M_ROWS; m++) {
        var xv = loadX4(m, k);
        if (NORM) {
          sumsq[m] += dot(xv, xv);
          xv = xv * gamma4(k);
        }
        // Σ x·(q − z)·s = s·(Σ x·q − z·Σ x): the scale and zero once per unit, not per element.
        let sx = xv.x + xv.y + xv.z + xv.w;
        dot0[m] += s0 * (dot(q0, xv) - z0 * sx);
        if (SWIGLU) {
          dot1[m] += s1 * (dot(q1, xv) - z1 * sx);
        }
      }
    }
  }

  let mine = t * M_ROWS * 3;
  for (var m = 0; m < M_ROWS; m++) {
    partials[mine + 3 * m] = dot0[m];
    partials[mine + 3 * m + 1] = dot1[m];
    partials[mine + 3 * m + 2] = sumsq[m];
  }
  workgroupBarrier();

  // Lane m of each output finishes row m of x (LANES >= M_ROWS).
  if (valid && lane < M_ROWS) {
    let m = lane;
    var a = 0.0;
    var g = 0.0;
    var ss = 0.0;
    for (var l = 0; l < LANES; l++) {
      let p = ((slot * LANES + l) * M_ROWS + m) * 3;
      a += partials[p];
      g += partials[p + 1];
      ss += partials[p + 2];
    }
    finish(m, u, a, g, ss);
  }
}
