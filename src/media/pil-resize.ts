/**
 * Pillow's `Image.resize` for 8-bit images, reimplemented bit for bit (Pillow's `Resample.c`: separable
 * convolution with antialiasing support, 22-bit fixed-point coefficients, horizontal pass first, each pass
 * rounded to uint8).
 *
 * Why not transformers.js's `RawImage.resize`: in Node it calls sharp's `affine` (no antialiasing when shrinking,
 * and edge pixels blend towards black), in the browser a canvas `drawImage` (bilinear, whatever `resample` says).
 * Neither matches Pillow, which Hugging Face's Python `CLIPImageProcessor` uses and which every CLIP/LLaVA
 * checkpoint was trained behind; and the two disagree with each other, so the same image would give different
 * features in Node and in the browser. This pure-JS version gives Pillow's pixels everywhere.
 */

/** PIL resampling filter codes as stored in `preprocessor_config.json` (`resample`). */
export type PilResample = 0 | 1 | 2 | 3 | 4 | 5;

interface Filter {
  fn: (x: number) => number;
  support: number;
}

const sinc = (x: number) => (x === 0 ? 1 : Math.sin(x * Math.PI) / (x * Math.PI));
// Pillow writes the Hamming constants as C floats (0.54f, 0.46f); keep their float32 values.
const H0 = Math.fround(0.54);
const H1 = Math.fround(0.46);

const FILTERS: Record<Exclude<PilResample, 0>, Filter> = {
  1: { fn: (x) => (x >= -3 && x < 3 ? sinc(x) * sinc(x / 3) : 0), support: 3 }, // LANCZOS
  2: { fn: (x) => ((x = Math.abs(x)) < 1 ? 1 - x : 0), support: 1 }, // BILINEAR
  3: {
    // BICUBIC with a = -0.5
    fn: (x) => {
      const a = -0.5;
      x = Math.abs(x);
      if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
      if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
      return 0;
    },
    support: 2,
  },
  4: { fn: (x) => (x > -0.5 && x <= 0.5 ? 1 : 0), support: 0.5 }, // BOX
  5: {
    // HAMMING
    fn: (x) => {
      x = Math.abs(x);
      if (x === 0) return 1;
      if (x >= 1) return 0;
      x *= Math.PI;
      return (Math.sin(x) / x) * (H0 + H1 * Math.cos(x));
    },
    support: 1,
  },
};

const PRECISION_BITS = 32 - 8 - 2;
const ONE = 2 ** PRECISION_BITS;

/** Per output pixel: first source index, tap count, and fixed-point weights (Pillow's `precompute_coeffs`). */
function coefficients(inSize: number, outSize: number, filter: Filter): { start: Int32Array; count: Int32Array; k: Float64Array; ksize: number } {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = filter.support * filterScale;
  const ksize = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const k = new Float64Array(outSize * ksize);
  const w = new Float64Array(ksize);
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    // C's (int) cast truncates towards zero; both values are clamped right after, as in Pillow.
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      w[x] = filter.fn((x + xmin - center + 0.5) / filterScale);
      ww += w[x]!;
    }
    for (let x = 0; x < xmax; x++) {
      const v = ww !== 0 ? w[x]! / ww : w[x]!;
      // normalize_coeffs_8bpc: round half away from zero to 22-bit fixed point.
      k[xx * ksize + x] = v < 0 ? Math.trunc(-0.5 + v * ONE) : Math.trunc(0.5 + v * ONE);
    }
    start[xx] = xmin;
    count[xx] = xmax;
  }
  return { start, count, k, ksize };
}

const clip8 = (ss: number) => {
  const v = Math.floor(ss / ONE); // C's arithmetic `>>` on a signed int floors
  return v < 0 ? 0 : v > 255 ? 255 : v;
};

/** One separable pass along x (`horizontal`) or y, on interleaved 8-bit pixels. */
function pass(src: ArrayLike<number>, w: number, h: number, c: number, outSize: number, horizontal: boolean, filter: Filter): Uint8ClampedArray {
  const inSize = horizontal ? w : h;
  const { start, count, k, ksize } = coefficients(inSize, outSize, filter);
  const ow = horizontal ? outSize : w;
  const oh = horizontal ? h : outSize;
  const out = new Uint8ClampedArray(ow * oh * c);
  const half = ONE / 2;
  for (let y = 0; y < oh; y++) {
    for (let x = 0; x < ow; x++) {
      const o = horizontal ? x : y;
      const s0 = start[o]!;
      const n = count[o]!;
      for (let ch = 0; ch < c; ch++) {
        let ss = half;
        for (let i = 0; i < n; i++) {
          const idx = horizontal ? (y * w + s0 + i) * c + ch : ((s0 + i) * w + x) * c + ch;
          ss += src[idx]! * k[o * ksize + i]!;
        }
        out[(y * ow + x) * c + ch] = clip8(ss);
      }
    }
  }
  return out;
}

/**
 * Pillow's NEAREST resize (`ImagingScaleAffine`): source positions are accumulated step by step from the first
 * pixel centre, as Pillow does, so exact half-way positions round the same way.
 */
function nearest(src: ArrayLike<number>, w: number, h: number, c: number, ow: number, oh: number): Uint8ClampedArray {
  const out = new Uint8ClampedArray(ow * oh * c);
  const table = (inSize: number, outSize: number) => {
    const step = inSize / outSize;
    const t = new Int32Array(outSize);
    let pos = step * 0.5;
    for (let i = 0; i < outSize; i++, pos += step) t[i] = Math.min(Math.trunc(pos), inSize - 1);
    return t;
  };
  const xs = table(w, ow);
  const ys = table(h, oh);
  for (let y = 0; y < oh; y++) {
    for (let x = 0; x < ow; x++) {
      for (let ch = 0; ch < c; ch++) out[(y * ow + x) * c + ch] = src[(ys[y]! * w + xs[x]!) * c + ch]!;
    }
  }
  return out;
}

/**
 * Resizes interleaved 8-bit pixels (`channels` per pixel) to `outWidth × outHeight` exactly as Pillow's
 * `Image.resize(size, resample)` does for an "L"/"RGB" image with no `box` and no `reducing_gap`.
 */
export function resizePIL(
  data: ArrayLike<number>,
  width: number,
  height: number,
  channels: number,
  outWidth: number,
  outHeight: number,
  resample: PilResample = 3,
): Uint8ClampedArray {
  if (!(outWidth >= 1 && outHeight >= 1 && Number.isInteger(outWidth) && Number.isInteger(outHeight))) {
    throw new Error(`cannot resize to ${outWidth}×${outHeight}`);
  }
  if (data.length !== width * height * channels) {
    throw new Error(`${data.length} bytes do not hold a ${width}×${height}×${channels} image`);
  }
  if (resample === 0) return nearest(data, width, height, channels, outWidth, outHeight);
  const filter = FILTERS[resample];
  if (!filter) throw new Error(`unknown PIL resample filter ${String(resample)} (expected 0-5)`);
  let cur: ArrayLike<number> = data;
  let w = width;
  // Pillow skips a pass whose size does not change; it would be the identity anyway.
  if (outWidth !== width) {
    cur = pass(cur, w, height, channels, outWidth, true, filter);
    w = outWidth;
  }
  if (outHeight !== height) cur = pass(cur, w, height, channels, outHeight, false, filter);
  return cur instanceof Uint8ClampedArray && cur !== data ? cur : Uint8ClampedArray.from(cur);
}
