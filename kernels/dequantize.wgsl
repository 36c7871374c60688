// W as float32 [N, K] from its packed words (kernels/dequant.wgsl, included before this): one invocation per unit
// of 4 k. Used where a product needs W itself — the backward `dy · W` of a frozen layer that LoRA trains through —
// and freed right after, so W is never held as float32 for longer than one product.
//
// The host declares, besides what dequant.wgsl needs: uniforms units (= N), K; `fn storeOut(i, v)`.

fn main(index : i32) {
  let K = uniforms.K;
  let kUnits = (K + 3) / 4;
  let n = index / kUnits;
  if (n >= uniforms.units) {
    return;
  }
  let c = index - n * kUnits;
  let v = weightUnit(n, c);
  for (var j = 0; j < 4; j++) {
    if (4 * c + j < K) {
      storeOut(n * K + 4 * c + j, v[j]);
    }
  }
}
