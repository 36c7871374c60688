// Embedding-table gradient without atomics: for every table row v,
//
//   dTable[v, :] = sum of dy[positions[k], :] for k in [rowStart[v], rowStart[v + 1])   (ascending k)
//
// where `positions` lists the text positions grouped by token id (a CSR layout built on the CPU from the
// layout, which the merge already has there). tfjs's own route, unsortedSegmentSum, scatters with a
// compare-and-swap loop per element: slow when many positions share a token (padding, common words) and
// order-dependent, so two runs can differ in the last bit. Here each output element is one fixed-order sum.
//
// User code of a tfjs-webgpu program (kernels/embedding-table-grad.ts): tfjs prepends the bindings `result`
// [V, D], `dy` [rows, D] (both of the element type), `rowStart` [V + 1] and `positions` [M] (array<i32>),
// the `uniforms` struct (`outShape` = [V, D]; our `rowVecs` = elements per row), and `_start`, which calls
// `main` with the flat invocation index. kernels/embedding-table-grad.ts also prepends `alias Elem = ...;`,
// the element type: vec4<f32> when D is a multiple of 4, else f32.

// Lanes per workgroup, one workgroup per table row; the TS wrapper reads this line.
const ROW_LANES : i32 = 64;

fn main(index : i32) {
  let v = index / ROW_LANES;
  if (v >= uniforms.outShape.x) {
    return; // padding workgroups of a folded dispatch
  }
  let lane = index - v * ROW_LANES;
  let n = uniforms.rowVecs;
  let k0 = rowStart[v];
  let k1 = rowStart[v + 1];
  for (var c = lane; c < n; c += ROW_LANES) {
    var acc = Elem(0.0);
    for (var k = k0; k < k1; k++) {
      acc = acc + dy[positions[k] * n + c];
    }
    result[v * n + c] = acc;
  }
}
