import { tf, type Tensor } from '../tf.js';

/** RMSNorm as Llama defines it: `w · x / sqrt(mean(x²) + eps)`, computed in float32. */
export class RMSNorm {
  readonly weight: tf.Variable;
  constructor(
    weight: Tensor,
    readonly eps: number,
    trainable = false,
  ) {
    this.weight = tf.variable(weight, trainable);
  }
  apply(x: Tensor): Tensor {
    return tf.tidy(() => {
      const variance = tf.mean(tf.square(x), -1, true);
      return tf.mul(tf.mul(x, tf.rsqrt(tf.add(variance, this.eps))), this.weight);
    });
  }
  parameters(): Map<string, tf.Variable> {
    return new Map([['weight', this.weight]]);
  }
  dispose(): void {
    this.weight.dispose();
  }
}

/** LayerNorm over the last axis with affine weight and bias (CLIP, Whisper, BERT). */
export class LayerNorm {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable;
  constructor(weight: Tensor, bias: Tensor, readonly eps: number, trainable = false) {
    this.weight = tf.variable(weight, trainable);
    this.bias = tf.variable(bias, trainable);
  }
  apply(x: Tensor): Tensor {
    return tf.tidy(() => {
      const mean = tf.mean(x, -1, true);
      const centered = tf.sub(x, mean);
      const variance = tf.mean(tf.square(centered), -1, true);
      return tf.add(tf.mul(tf.mul(centered, tf.rsqrt(tf.add(variance, this.eps))), this.weight), this.bias);
    });
  }
  parameters(): Map<string, tf.Variable> {
    return new Map([
      ['weight', this.weight],
      ['bias', this.bias],
    ]);
  }
  dispose(): void {
    this.weight.dispose();
    this.bias.dispose();
  }
}
