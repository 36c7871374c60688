// Embedding merge: one pass that builds the LM's input embeddings.
//
//   out[p, :] = table[rowIndex[p], :]            when rowIndex[p] >= 0   (a text token)
//   out[p, :] = projected[-rowIndex[p] - 1, :]   when rowIndex[p] <  0   (a modality placeholder)
//
// This is the *user code* of a tfjs-webgpu program (kernels/embedding-merge.ts), not a standalone module:
// tfjs-webgpu prepends the bindings `result`, `table`, `projected` (arrays of the element type), `rowIndex`
// (array<i32>), the `uniforms` struct (`outShape` = [rows, hidden]; our `rowVecs` = elements per row) and a
// `_start` entry point with @workgroup_size(ROW_LANES) that calls `main` with the flat invocation index
// (workgroup-major, so it stays correct when tfjs folds a large dispatch into y and z).
//
// The element type is vec4<f32> when the hidden size is a multiple of 4, f32 otherwise. The code only moves
// whole elements, so the same text serves both widths, and a copy never rounds: the result is bit-exact.
//
// One workgroup per output row: the row's source is read once, the branch is uniform across the workgroup,
// and lanes stride through the row together, so neighbouring lanes touch neighbouring elements (coalesced
// on GPUs; on SwiftShader, fewer and longer workgroups measured up to 2-3x faster than one element per invocation).

// Lanes per workgroup; kernels/embedding-merge.ts reads this line to set the program's workgroup size.
const ROW_LANES : i32 = 64;

fn main(index : i32) {
  let p = index / ROW_LANES;
  if (p >= uniforms.outShape.x) {
    return; // padding workgroups of a folded dispatch
  }
  let lane = index - p * ROW_LANES;
  let n = uniforms.rowVecs;
  let dst = p * n;
  let src = rowIndex[p];
  if (src >= 0) {
    let first = src * n;
    for (var c = lane; c < n; c += ROW_LANES) {
      result[dst + c] = table[first + c];
    }
  } else {
    let first = (-1 - src) * n;
    for (var c = lane; c < n; c += ROW_LANES) {
      result[dst + c] = projected[first + c];
    }
  }
}
