import { tf, type Tensor } from '../tf.js';
import type { RopeScaling } from './config.js';

/**
 * Rotary position embeddings as Hugging Face's Llama implements them: frequencies `θ^(-2i/d)` (optionally
 * rescaled), angles duplicated across both halves of the head (`cat(freqs, freqs)`), and rotation by
 * `rotate_half`. Inverse frequencies are computed in float64 on the CPU once; angles in float32 like HF.
 */
export function ropeInverseFrequencies(headDim: number, theta: number, scaling: RopeScaling | null): Float32Array {
  const half = headDim / 2;
  const inv = new Float64Array(half);
  for (let i = 0; i < half; i++) inv[i] = 1 / Math.pow(theta, (2 * i) / headDim);
  if (scaling?.type === 'linear') {
    for (let i = 0; i < half; i++) inv[i] /= scaling.factor;
  } else if (scaling?.type === 'llama3') {
    // Llama 3.1: keep high frequencies, divide low ones by `factor`, interpolate smoothly in between.
    const { factor, lowFreqFactor = 1, highFreqFactor = 4, originalMaxPositionEmbeddings = 8192 } = scaling;
    const lowFreqWavelen = originalMaxPositionEmbeddings / lowFreqFactor;
    const highFreqWavelen = originalMaxPositionEmbeddings / highFreqFactor;
    for (let i = 0; i < half; i++) {
      const wavelen = (2 * Math.PI) / inv[i];
      if (wavelen < highFreqWavelen) continue;
      if (wavelen > lowFreqWavelen) {
        inv[i] /= factor;
      } else {
        const smooth = (originalMaxPositionEmbeddings / wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
        inv[i] = (1 - smooth) * (inv[i] / factor) + smooth * inv[i];
      }
    }
  }
  return Float32Array.from(inv);
}

/**
 * cos and sin tables for the given positions: `[B, 1, T, headDim]`, ready to broadcast over heads.
 * `positions` is `[B, T]` int32.
 */
export function ropeCosSin(positions: Tensor, invFreq: Tensor): { cos: Tensor; sin: Tensor } {
  return tf.tidy(() => {
    const [b, t] = positions.shape;
    const freqs = tf.mul(tf.expandDims(tf.cast(positions, 'float32'), -1), invFreq.reshape([1, 1, -1]));
    const emb = tf.concat([freqs, freqs], -1).reshape([b, 1, t, -1]);
    return { cos: tf.cos(emb), sin: tf.sin(emb) };
  });
}

/** `x·cos + rotate_half(x)·sin` for `x` of shape `[B, heads, T, headDim]`. */
export function applyRope(x: Tensor, cos: Tensor, sin: Tensor): Tensor {
  return tf.tidy(() => {
    const d = x.shape[x.rank - 1];
    const [x1, x2] = tf.split(x, [d / 2, d / 2], -1);
    const rotated = tf.concat([tf.neg(x2), x1], -1);
    return tf.add(tf.mul(x, cos), tf.mul(rotated, sin));
  });
}
