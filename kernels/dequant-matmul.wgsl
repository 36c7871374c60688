// Dequantizing matrix product for prefill (M > 8 rows of x):
//
//   out[m, n] = Σ_k x[m, k] · W[n, k]  (+ bias[n])
//
// with W packed (kernels/dequant.wgsl, included before this). Tiled: a workgroup of 64 threads owns a 32×32
// tile of out and walks K in steps of 32 (8 units of 4 k), staging x and the dequantized W in workgroup memory,
// so each weight word is read and unpacked once per 32 rows of x. Each thread accumulates 4×4 outputs, rows
// tr + 8i and columns tc + 8j. Sizes that do not divide the tile are masked (zeros in, nothing out).
//
// The host declares, besides what dequant.wgsl needs: bindings x (array<f32>, [M, K]) and bias
// (array<f32>); uniforms M, units (= N), K, hasBias; `fn storeOut(i, v)`. `main(index)` gets the flat
// invocation index, workgroup-major.

const TILE : i32 = 32;
const TILE_UNITS : i32 = 8; // TILE / 4
const MM_WG : i32 = 64;

var<workgroup> xTile : array<vec4<f32>, 256>; // [TILE rows of x][TILE_UNITS]
var<workgroup> wTile : array<vec4<f32>, 256>; // [TILE rows of W][TILE_UNITS]

fn loadX4mm(m : i32, k : i32) -> vec4<f32> {
  let K = uniforms.K;
  let i = m * K + k;
  if (k + 4 <= K) {
    return vec4<f32>(x[i], x[i + 1], x[i + 2], x[i + 3]);
  }
  var v = vec4<f32>(0.0);
  for (var j = 0; j < 4; j++) {
    if (k + j < K) {
      v[j] = x[i + j];
    }
  }
  return v;
}

fn main(index : i32) {
  let wgi = index / MM_WG;
  let t = index - wgi * MM_WG;
  let M = uniforms.M;
  let N = uniforms.units;
  let tilesN = (N + TILE - 1) / TILE;
  let tm = wgi / tilesN;
  let m0 = tm * TILE;
  let n0 = (wgi - tm * tilesN) * TILE;
  let tr = t / 8;
  let tc = t - tr * 8;
  let kUnits = (uniforms.K + 3) / 4;

  var acc : array<vec4<f32>, 4>; // acc[i][j]: row m0 + tr + 8i, column n0 + tc + 8j
  for (var c0 = 0; c0 < kUnits; c0 += TILE_UNITS) {
    for (var l = 0; l < 4; l++) {
      let e = t + MM_WG * l;
      let r = e / TILE_UNITS;
      let c = c0 + e - r * TILE_UNITS;
      var xv = vec4<f32>(0.0);
      if (m0 + r < M && c < kUnits) {
        xv = loadX4mm(m0 + r, 4 * c);
      }
      xTile[e] = xv;
      var wv = vec4<f32>(0.0);
      if (n0 + r < N && c < kUnits) {
        // Past K a quantized row holds padding codes (finite): x is zero there, so they add nothing.
        wv = weightUnit(n0 + r, c);
      }
      wTile[e] = wv;
    }
    workgroupBarrier();
    for (var cu = 0; cu < TILE_UNITS; cu++) {
      var xr : array<vec4<f32>, 4>;
      for (var i = 0; i < 4; i++) {
        xr[i] = xTile[(tr + 8 * i) * TILE_UNITS + cu];
      }
      for (var j = 0; j < 4; j++) {
        let wv = wTile[(tc + 8 * j) * TILE_UNITS + cu];
        for (var i = 0; i < 4; i++) {
          acc[i][j] += dot(xr[i], wv);
        }
      }
    }
    workgroupBarrier();
  }

  for (var i = 0; i < 4; i++) {
    let m = m0 + tr + 8 * i;
    for (var j = 0; j < 4; j++) {
      let n = n0 + tc + 8 * j;
      if (m < M && n < N) {
        var y = acc[i][j];
        if (uniforms.hasBias != 0) {
          y += bias[n];
        }
        storeOut(m * N + n, y);
      }
    }
  }
}
