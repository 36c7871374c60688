import { tf, type Tensor } from '../tf.js';

/**
 * A ViT patch embedding: PyTorch's `Conv2d(channels, hidden, kernel_size=p, stride=p, bias=False)` on NCHW
 * pixels, returned as a token sequence `[n, patches, hidden]`.
 *
 * Computed with `tf.conv2d` on NHWC input (tfjs convolves NHWC only) and the filter transposed once at load. A
 * stride-equals-kernel conv is also exactly "patchify, then one matmul", which we tried first; the conv measured
 * faster or equal everywhere (ViT-L/14-336, 2 images: wasm 179 ms vs 248 ms, cpu 2.3 s vs 3.4 s (1 image),
 * WebGPU/SwiftShader 26.5 s vs 27.3 s; same outputs within 1.5e-4 on values of size ~25), so we keep the conv.
 */
export class PatchEmbedding {
  /** The filter in tfjs layout `[p, p, channels, hidden]`. */
  readonly filter: tf.Variable;
  readonly hidden: number;
  readonly channels: number;

  /** @param weight the PyTorch conv weight `[hidden, channels, p, p]`. */
  constructor(
    weight: Tensor,
    readonly patchSize: number,
  ) {
    const [hidden, channels, kh, kw] = weight.shape as number[];
    if (weight.rank !== 4 || kh !== patchSize || kw !== patchSize) {
      throw new Error(`patch embedding weight has shape [${weight.shape}], expected [hidden, channels, ${patchSize}, ${patchSize}]`);
    }
    this.hidden = hidden!;
    this.channels = channels!;
    const filter = weight.transpose([2, 3, 1, 0]);
    this.filter = tf.variable(filter, false); // shares the data, so the handle can go
    filter.dispose();
  }

  /**
   * `pixels [n, c, H, W]` → `[n, (H/p)·(W/p), hidden]`, patches in row-major order (as Hugging Face's
   * `conv(x).flatten(2).transpose(1, 2)`).
   */
  apply(pixels: Tensor): Tensor {
    return tf.tidy(() => {
      const [n, c, h, w] = pixels.shape as number[];
      const p = this.patchSize;
      if (pixels.rank !== 4 || c !== this.channels || h! % p !== 0 || w! % p !== 0) {
        throw new Error(`pixel values have shape [${pixels.shape}], expected [n, ${this.channels}, H, W] with H and W multiples of ${p}`);
      }
      const nhwc = pixels.transpose([0, 2, 3, 1]) as tf.Tensor4D;
      if (this.filter.trainable && tf.engine().state.gradientDepth > 0) {
        // Training the tower: as patchify + matmul, whose gradient is a matmul too. tfjs's conv filter
        // gradient has no wasm kernel and its cpu one took 3.6 s per step for 16 tiny images.
        const gh = h! / p;
        const gw = w! / p;
        const patches = nhwc.reshape([n!, gh, p, gw, p, c!]).transpose([0, 1, 3, 2, 4, 5]).reshape([n! * gh * gw, p * p * c!]);
        return tf.matMul(patches, this.filter.reshape([p * p * c!, this.hidden])).reshape([n!, gh * gw, this.hidden]);
      }
      const out = tf.conv2d(nhwc, this.filter as tf.Tensor4D, p, 'valid');
      return out.reshape([n!, (h! / p) * (w! / p), this.hidden]);
    });
  }

  dispose(): void {
    this.filter.dispose();
  }
}
