// Reading packed weights (kernels/packed-weight.ts documents the layouts). Included in front of the
// dequant-matvec and dequant-matmul user code, by the tfjs programs and by the decode engine alike.
//
// The host declares, before this text:
//   const FORMAT : i32            one of the FMT_* codes below
//   w, scales, zeros              array<i32> storage bindings (32-bit words; tfjs int32 tensors)
//   uniforms.rowWords             words per weight row
//   uniforms.groupSize            quantization group size G (q4/q8)
//   uniforms.nBlocks              groups per row, ceil(K / G)
//   uniforms.zeroRowBytes         bytes per row of the zero points
//   uniforms.hasZeros             0: symmetric (zero point 8 for q4, 128 for q8)
//   fn unpackHalf2(u32) -> vec2<f32>  two f16 (low half first) widened: unpack2x16float, or a bitcast to
//                                 vec2<f16> where the device has shader-f16 (the engine's choice)
//
// Everything is read in "units" of 4 consecutive k, which every format stores as whole words: q4 half a word
// (4 nibbles), q8 one word, f16/bf16 two, f32 four (float rows are padded to a multiple of 4 elements). FORMAT is
// a constant, so each pipeline keeps only its own branch; the other bindings are still referenced, which keeps
// one bind-group layout for every format.

const FMT_F32 : i32 = 0;
const FMT_F16 : i32 = 1;
const FMT_BF16 : i32 = 2;
const FMT_Q4 : i32 = 3;
const FMT_Q8 : i32 = 4;

const QUANTIZED : bool = FORMAT == FMT_Q4 || FORMAT == FMT_Q8;

fn wordAt(i : i32) -> u32 {
  return bitcast<u32>(w[i]);
}

// The 4 stored values of row n at k = 4c ... 4c+3: integer codes (q4, q8) or the weights (float formats).
fn rawUnit(n : i32, c : i32) -> vec4<f32> {
  let base = n * uniforms.rowWords;
  // Constant scalar shifts, not a vec4 of per-lane shift amounts: CPU implementations (SwiftShader) turn those
  // into slow per-lane code, and GPUs do not care.
  if (FORMAT == FMT_Q4) {
    // Even k in the low nibble: nibble j of a word is k = 8·word + j; unit c takes the half c & 1.
    let v = wordAt(base + (c >> 1u)) >> (u32(c & 1) * 16u);
    return vec4<f32>(f32(v & 15u), f32((v >> 4u) & 15u), f32((v >> 8u) & 15u), f32((v >> 12u) & 15u));
  }
  if (FORMAT == FMT_Q8) {
    let v = wordAt(base + c);
    return vec4<f32>(f32(v & 255u), f32((v >> 8u) & 255u), f32((v >> 16u) & 255u), f32(v >> 24u));
  }
  if (FORMAT == FMT_F16) {
    let i = base + 2 * c;
    return vec4<f32>(unpackHalf2(wordAt(i)), unpackHalf2(wordAt(i + 1)));
  }
  if (FORMAT == FMT_BF16) {
    // bfloat16 is the top half of a float32: widening is a shift.
    let a = wordAt(base + 2 * c);
    let b = wordAt(base + 2 * c + 1);
    return vec4<f32>(bitcast<f32>(a << 16u), bitcast<f32>(a & 0xffff0000u), bitcast<f32>(b << 16u), bitcast<f32>(b & 0xffff0000u));
  }
  let i = base + 4 * c;
  return bitcast<vec4<f32>>(vec4<u32>(wordAt(i), wordAt(i + 1), wordAt(i + 2), wordAt(i + 3)));
}

// Scale of group b of row n (f16, two per word); 1 for float formats.
fn scaleAt(n : i32, b : i32) -> f32 {
  if (!QUANTIZED) {
    return 1.0;
  }
  let i = n * uniforms.nBlocks + b;
  let pair = unpackHalf2(bitcast<u32>(scales[i >> 1u]));
  return select(pair.x, pair.y, (i & 1) == 1);
}

// Zero point of group b of row n; 0 for float formats.
fn zeroAt(n : i32, b : i32) -> f32 {
  if (!QUANTIZED) {
    return 0.0;
  }
  if (uniforms.hasZeros == 0) {
    return select(128.0, 8.0, FORMAT == FMT_Q4);
  }
  var byte = n * uniforms.zeroRowBytes + b;
  var shift = 0u;
  if (FORMAT == FMT_Q4) {
    byte = n * uniforms.zeroRowBytes + (b >> 1u);
    shift = u32(b & 1) * 4u;
  }
  let word = bitcast<u32>(zeros[byte >> 2u]);
  return f32((word >> (u32(byte & 3) * 8u + shift)) & select(255u, 15u, FORMAT == FMT_Q4));
}

// The dequantized weights of row n at k = 4c ... 4c+3: (q - z) · s.
fn weightUnit(n : i32, c : i32) -> vec4<f32> {
  if (!QUANTIZED) {
    return rawUnit(n, c);
  }
  let b = (4 * c) / uniforms.groupSize;
  return (rawUnit(n, c) - zeroAt(n, b)) * scaleAt(n, b);
}
