/**
 * The Whisper audio encoder in tfjs, loading Hugging Face weights by name. Forward pass as in HF's
 * `WhisperEncoder`: two Conv1d (kernel 3, padding 1; the second with stride 2) each followed by exact GELU,
 * learned positions added, pre-LayerNorm transformer layers, a final LayerNorm.
 */
import { tf, type Tensor } from '../tf.js';
import { activation, gelu } from '../nn/activations.js';
import type { LayerNorm } from '../nn/norms.js';
import type { Linear } from '../nn/linear.js';
import { readJSON, type ModelSource } from '../io/source.js';
import { readWeightFiles, WeightStore } from '../io/weights.js';
import { parseWhisperConfig, type WhisperConfig } from './whisper-config.js';
import { WhisperAttention, loadLayerNorm, loadLinear, type WhisperWeights } from './whisper-attention.js';

/**
 * Where the encoder's (or decoder's) weights sit in a checkpoint: `model.encoder.` in
 * WhisperForConditionalGeneration, `encoder.` in WhisperModel and encoder-only heads (audio classification),
 * nothing for a bare `WhisperEncoder.save_pretrained`. Returns null when none matches.
 */
export function findWhisperPrefix(w: Pick<WhisperWeights, 'has'>, part: 'encoder' | 'decoder'): string | null {
  const probe = part === 'encoder' ? 'conv1.weight' : 'embed_tokens.weight';
  const candidates = part === 'encoder' ? ['model.encoder.', 'encoder.', ''] : ['model.decoder.', 'decoder.'];
  return candidates.find((p) => w.has(p + probe)) ?? null;
}

/** One pre-LN encoder layer: `x + attn(ln1(x))`, then `x + fc2(act(fc1(ln2(x))))`. */
class WhisperEncoderLayer {
  constructor(
    readonly selfAttn: WhisperAttention,
    readonly selfAttnLayerNorm: LayerNorm,
    readonly fc1: Linear,
    readonly fc2: Linear,
    readonly finalLayerNorm: LayerNorm,
    readonly act: (x: Tensor) => Tensor,
  ) {}

  apply(x: Tensor): Tensor {
    return tf.tidy(() => {
      const h = tf.add(x, this.selfAttn.apply(this.selfAttnLayerNorm.apply(x)));
      return tf.add(h, this.fc2.apply(this.act(this.fc1.apply(this.finalLayerNorm.apply(h)))));
    });
  }

  dispose(): void {
    this.selfAttn.dispose();
    for (const m of [this.selfAttnLayerNorm, this.fc1, this.fc2, this.finalLayerNorm]) m.dispose();
  }
}

/** Conv1d weights in tfjs layout: PyTorch's [out, in, k] transposed to `conv1d`'s [k, in, out]. */
interface Conv {
  filter: Tensor;
  bias: Tensor;
}

/**
 * Whisper's encoder. `forward(features [n, num_mel_bins, frames]) → [n, ceil(frames / 2), d_model]`; frames
 * must be at most `2 × max_source_positions` (3000 for every OpenAI checkpoint: 30 s of 10 ms hops).
 */
export class WhisperEncoder {
  private constructor(
    readonly config: WhisperConfig,
    private readonly conv1: Conv,
    private readonly conv2: Conv,
    private readonly positions: Tensor,
    private readonly layers: WhisperEncoderLayer[],
    private readonly layerNorm: LayerNorm,
  ) {}

  /**
   * Loads `config.json` and the weights (safetensors, sharded or not, or pytorch_model.bin) from `source`.
   * Accepts WhisperForConditionalGeneration, WhisperModel and encoder-only checkpoints; decoder weights are
   * ignored.
   */
  static async load(source: ModelSource): Promise<WhisperEncoder> {
    const config = parseWhisperConfig(await readJSON(source, 'config.json'), `${source.location}/config.json`);
    const store = new WeightStore(await readWeightFiles(source), source.location);
    return WhisperEncoder.fromWeights(store, config);
  }

  /** Builds the encoder from loaded weights (any of the name layouts {@link findWhisperPrefix} knows). */
  static fromWeights(w: WhisperWeights, config: WhisperConfig): WhisperEncoder {
    const p = findWhisperPrefix(w, 'encoder');
    if (p === null) {
      throw new Error(
        'no Whisper encoder weights: expected "model.encoder.conv1.weight", "encoder.conv1.weight" or "conv1.weight"' +
          ` (first names: ${w.keys().slice(0, 3).join(', ')})`,
      );
    }
    const { dModel: d, numMelBins: mels, encoderFfnDim: ffn } = config;
    const conv = (name: string, inCh: number): Conv => ({
      filter: tf.tidy(() => w.get(`${p}${name}.weight`, [d, inCh, 3]).transpose([2, 1, 0])),
      bias: w.get(`${p}${name}.bias`, [d]),
    });
    const act = activation(config.activationFunction);
    const layers: WhisperEncoderLayer[] = [];
    for (let i = 0; i < config.encoderLayers; i++) {
      const l = `${p}layers.${i}`;
      layers.push(
        new WhisperEncoderLayer(
          WhisperAttention.load(w, `${l}.self_attn`, d, config.encoderAttentionHeads),
          loadLayerNorm(w, `${l}.self_attn_layer_norm`, d),
          loadLinear(w, `${l}.fc1`, d, ffn),
          loadLinear(w, `${l}.fc2`, ffn, d),
          loadLayerNorm(w, `${l}.final_layer_norm`, d),
          act,
        ),
      );
    }
    return new WhisperEncoder(
      config,
      conv('conv1', mels),
      conv('conv2', d),
      w.get(`${p}embed_positions.weight`, [config.maxSourcePositions, d]),
      layers,
      loadLayerNorm(w, `${p}layer_norm`, d),
    );
  }

  /** Width of the output states (`d_model`). */
  get hiddenSize(): number {
    return this.config.dModel;
  }

  /**
   * Encoder states for log-mel features `[n, num_mel_bins, frames]` (the layout Whisper's feature extractor
   * produces). Hugging Face insists on exactly `2 × max_source_positions` frames; shorter inputs are accepted
   * here and use the first positions, which is what the model computes for those frames.
   */
  forward(inputFeatures: Tensor): Tensor {
    const { numMelBins, maxSourcePositions, dModel } = this.config;
    const [, mels, frames] = inputFeatures.shape;
    if (inputFeatures.rank !== 3 || mels !== numMelBins) {
      throw new Error(`WhisperEncoder: input features must be [n, ${numMelBins}, frames], got [${inputFeatures.shape}]`);
    }
    if (frames! < 1 || frames! > 2 * maxSourcePositions) {
      throw new Error(`WhisperEncoder: ${frames} frames; this model takes 1 to ${2 * maxSourcePositions} (max_source_positions ${maxSourcePositions} × 2)`);
    }
    return tf.tidy(() => {
      // tfjs convolutions are channels-last (NWC): [n, mels, frames] → [n, frames, mels].
      let x = inputFeatures.transpose([0, 2, 1]);
      x = gelu1d(x, this.conv1, 1);
      x = gelu1d(x, this.conv2, 2);
      const t = x.shape[1]!;
      x = tf.add(x, this.positions.slice([0, 0], [t, dModel]));
      for (const layer of this.layers) x = layer.apply(x);
      return this.layerNorm.apply(x);
    });
  }

  dispose(): void {
    for (const t of [this.conv1.filter, this.conv1.bias, this.conv2.filter, this.conv2.bias, this.positions]) t.dispose();
    for (const l of this.layers) l.dispose();
    this.layerNorm.dispose();
  }
}

/**
 * `gelu(conv1d(x))` with PyTorch's `padding=1` on both sides. The GELU is exact whatever
 * `activation_function` says (HF hard-codes it after the convolutions). Padded explicitly, not with 'same',
 * because for stride 2 TensorFlow's 'same' puts the single pad element on the right only, shifting every
 * window by one frame relative to PyTorch.
 */
function gelu1d(x: Tensor, conv: Conv, stride: number): Tensor {
  return tf.tidy(() => {
    const padded = tf.pad(x as tf.Tensor3D, [[0, 0], [1, 1], [0, 0]]);
    const y = tf.conv1d(padded, conv.filter as tf.Tensor3D, stride, 'valid');
    return gelu(tf.add(y, conv.bias));
  });
}
