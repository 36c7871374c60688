// Decoder input rows for M positions: out[m, :] = row ids[idBase + m] of the embedding table, dequantized
// (kernels/dequant.wgsl, included before this, reads the table in any packed format), or for a negative id
// (a modality placeholder) row -id-1 of the projected modality rows: the embedding merge of the multimodal
// path. In decode, `ids` is the engine's state buffer, whose word 0 the sampler just wrote: the next token
// never leaves the GPU.
//
// Host declares: FORMAT; bindings result (array<f32>, [M, D]), ids (array<i32>), w / scales / zeros (the
// table), projected (array<f32>, [R, D]); uniforms M, D, V, idBase and the dequant.wgsl fields.
// One workgroup of 64 lanes per row.

@compute @workgroup_size(64)
fn embed(@builtin(workgroup_id) wid : vec3<u32>, @builtin(local_invocation_index) lid : u32) {
  let m = i32(wid.x);
  let D = uniforms.D;
  if (m >= uniforms.M) {
    return;
  }
  let id = ids[uniforms.idBase + m];
  let units = (D + 3) / 4;
  for (var c = i32(lid); c < units; c += 64) {
    var v = vec4<f32>(0.0);
    if (id >= 0 && id < uniforms.V) {
      v = weightUnit(id, c);
    } else if (id < 0) {
      let base = (-id - 1) * D + 4 * c;
      for (var j = 0; j < 4; j++) {
        if (4 * c + j < D) {
          v[j] = projected[base + j];
        }
      }
    }
    for (var j = 0; j < 4; j++) {
      if (4 * c + j < D) {
        result[m * D + 4 * c + j] = v[j];
      }
    }
  }
}
