import { tf, type Tensor } from '../tf.js';

/** SiLU (swish), the gate activation of SwiGLU. */
export function silu(x: Tensor): Tensor {
  return tf.tidy(() => tf.mul(x, tf.sigmoid(x)));
}

/**
 * Exact GELU, `x · Φ(x)` with the error function, as PyTorch's `nn.GELU()` (the LLaVA projector) and BERT.
 * Written with `tf.erf` because tfjs has no differentiable gelu op.
 */
export function gelu(x: Tensor): Tensor {
  return tf.tidy(() => tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2)))));
}

/** CLIP's `quick_gelu`: `x · sigmoid(1.702 x)`. */
export function quickGelu(x: Tensor): Tensor {
  return tf.tidy(() => tf.mul(x, tf.sigmoid(tf.mul(x, 1.702))));
}

/** GELU with the tanh approximation (`gelu_new` / `gelu_pytorch_tanh`). */
export function geluTanh(x: Tensor): Tensor {
  return tf.tidy(() => {
    const inner = tf.mul(Math.sqrt(2 / Math.PI), tf.add(x, tf.mul(0.044715, tf.pow(x, 3))));
    return tf.mul(tf.mul(0.5, x), tf.add(1, tf.tanh(inner)));
  });
}

export type ActivationName = 'gelu' | 'quick_gelu' | 'gelu_new' | 'gelu_pytorch_tanh' | 'silu' | 'relu';

/** Looks up an activation by its Hugging Face `hidden_act` name. */
export function activation(name: string): (x: Tensor) => Tensor {
  switch (name) {
    case 'gelu':
      return gelu;
    case 'quick_gelu':
      return quickGelu;
    case 'gelu_new':
    case 'gelu_pytorch_tanh':
      return geluTanh;
    case 'silu':
    case 'swish':
      return silu;
    case 'relu':
      return (x) => tf.relu(x);
    default:
      throw new Error(`unsupported activation "${name}" (supported: gelu, quick_gelu, gelu_new, silu, relu)`);
  }
}
