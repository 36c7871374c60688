// Dequantizing matrix product for prefill (M > 8 rows of x):
//
//   out[m, n] = Σ_k x[m, k] · W[n, k]  (+ bias[n])
//
// with W packed (kernels/dequant.wgsl, included before this). A workgroup of 64 threads owns a 32×32 tile of
// out; each thread accumulates 4×4 outputs (rows tr + 8i, columns tc + 8j) walking K in units of 4, so each
// weight unit it dequantizes serves 4 rows of x and each x unit 4 weight rows. No workgroup memory: staging
// tiles there made SwiftShader take 15–20 s to compile the kernel (2 s this way), and on GPUs the repeated
// reads of a tile come from cache. Sizes that do not divide the tile read clamped rows and store nothing.
//
// The host declares, besides what dequant.wgsl needs: bindings x (array<f32>, [M, K]) and bias
// (array<f32>); uniforms M, units (= N), K, hasBias; `fn storeOut(i, v)`. `main(index)` gets the flat
// invocation index, workgroup-major.

const TILE : i32 = 32;
const MM_WG : i32 = 64;

fn loadX4mm(m : i32, k : i32) -> vec4<f32> {
  let i = m * uniforms.K + k;
  let v = vec4<f32>(x[i], x[i + 1], x[i + 2], x[i + 3]);
  return select(vec4<f32>(0.0), v, vec4<i32>(k) + vec4<i32>(0, 1, 2, 3) < vec4<i32>(uniforms.K));
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
  let mA = min(m0 + tr, M - 1);
  let mB = min(m0 + tr + 8, M - 1);
  let mC = min(m0 + tr + 16, M - 1);
  let mD = min(m0 + tr + 24, M - 1);
  let nA = min(n0 + tc, N - 1);
  let nB = min(n0 + tc + 8, N - 1);
  let nC = min(n0 + tc + 16, N - 1);
  let nD = min(n0 + tc + 24, N - 1);
  var acc0 = vec4<f32>(0.0);
  var acc1 = vec4<f32>(0.0);
  var acc2 = vec4<f32>(0.0);
  var acc3 = vec4<f32>(0.0);
  for (var c = 0; c < kUnits; c++) {
    let k = 4 * c;
    let x0 = loadX4mm(mA, k);
    let x1 = loadX4mm(mB, k);
    let x2 = loadX4mm(mC, k);
    let x3 = loadX4mm(mD, k);
    let w0 = weightUnit(nA, c);
    let w1 = weightUnit(nB, c);
    let w2 = weightUnit(nC, c);
    let w3 = weightUnit(nD, c);
    acc0 += vec4<f32>(dot(x0, w0), dot(x0, w1), dot(x0, w2), dot(x0, w3));
    acc1 += vec4<f32>(dot(x1, w0), dot(x1, w1), dot(x1, w2), dot(x1, w3));
    acc2 += vec4<f32>(dot(x2, w0), dot(x2, w1), dot(x2, w2), dot(x2, w3));
    acc3 += vec4<f32>(dot(x3, w0), dot(x3, w1), dot(x3, w2), dot(x3, w3));
  }
  let acc = array<vec4<f32>, 4>(acc0, acc1, acc2, acc3);
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
