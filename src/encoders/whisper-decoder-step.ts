/**
 * The first step of Whisper's decoder, which is how the Python library turns a clip into one vector: its
 * `WhisperAudioModule` calls `WhisperModel(input_features, decoder_input_ids=[[decoder_start_token_id]])` and
 * keeps `last_hidden_state`, the decoder's state at position 0 after cross-attending to every encoder frame.
 * Reproducing it (rather than, say, mean-pooling encoder states) keeps projectors trained by the seed valid.
 */
import { tf, type Tensor } from '../tf.js';
import { activation } from '../nn/activations.js';
import type { LayerNorm } from '../nn/norms.js';
import type { Linear } from '../nn/linear.js';
import { rawToTensor } from '../io/raw-tensor.js';
import { bytesPerElement } from '../io/safetensors.js';
import type { WhisperConfig } from './whisper-config.js';
import { WhisperAttention, loadLayerNorm, loadLinear, type WhisperWeights } from './whisper-attention.js';
import { findWhisperPrefix } from './whisper-encoder.js';

/** A pre-LN decoder layer, run for a single position. */
interface DecoderLayer {
  selfAttn: WhisperAttention;
  selfAttnLayerNorm: LayerNorm;
  encoderAttn: WhisperAttention;
  encoderAttnLayerNorm: LayerNorm;
  fc1: Linear;
  fc2: Linear;
  finalLayerNorm: LayerNorm;
}

/**
 * `apply(encoderStates [n, frames, d]) → [n, 1, d]`: the decoder's output for the start token. Only one row of
 * `embed_tokens` (51865 × d in real checkpoints) and of `embed_positions` is kept in memory.
 */
export class WhisperDecoderStep {
  private constructor(
    readonly config: WhisperConfig,
    /** Token embedding (scaled when `scale_embedding`) plus position 0: the input of layer 0, [1, 1, d]. */
    private readonly input: Tensor,
    private readonly layers: DecoderLayer[],
    private readonly layerNorm: LayerNorm,
    private readonly act: (x: Tensor) => Tensor,
  ) {}

  /** Whether `w` holds decoder weights (a WhisperModel / WhisperForConditionalGeneration checkpoint). */
  static available(w: Pick<WhisperWeights, 'has'>): boolean {
    return findWhisperPrefix(w, 'decoder') !== null;
  }

  /** Builds the step from `model.decoder.*` or `decoder.*` weights; needs the decoder fields of the config. */
  static fromWeights(w: WhisperWeights, config: WhisperConfig): WhisperDecoderStep {
    const p = findWhisperPrefix(w, 'decoder');
    if (p === null) {
      throw new Error(
        'no Whisper decoder weights ("model.decoder.embed_tokens.weight" or "decoder.embed_tokens.weight"): the ' +
          "seed's audio feature is the decoder's first state, so it needs a full WhisperModel / " +
          'WhisperForConditionalGeneration checkpoint (or use pooling "mean" with an encoder-only one)',
      );
    }
    const need = (v: number | null, field: string): number => {
      if (v === null) throw new Error(`Whisper config.json: the decoder needs "${field}"`);
      return v;
    };
    const d = config.dModel;
    const heads = need(config.decoderAttentionHeads, 'decoder_attention_heads');
    const ffn = need(config.decoderFfnDim, 'decoder_ffn_dim');
    const start = need(config.decoderStartTokenId, 'decoder_start_token_id');
    const token = row(w, `${p}embed_tokens.weight`, start, d, config.vocabSize);
    const position = row(w, `${p}embed_positions.weight`, 0, d, config.maxTargetPositions);
    const input = tf.tidy(() => tf.add(tf.mul(token, config.scaleEmbedding ? Math.sqrt(d) : 1), position).reshape([1, 1, d]));
    token.dispose();
    position.dispose();
    const layers: DecoderLayer[] = [];
    for (let i = 0; i < need(config.decoderLayers, 'decoder_layers'); i++) {
      const l = `${p}layers.${i}`;
      layers.push({
        selfAttn: WhisperAttention.load(w, `${l}.self_attn`, d, heads),
        selfAttnLayerNorm: loadLayerNorm(w, `${l}.self_attn_layer_norm`, d),
        encoderAttn: WhisperAttention.load(w, `${l}.encoder_attn`, d, heads),
        encoderAttnLayerNorm: loadLayerNorm(w, `${l}.encoder_attn_layer_norm`, d),
        fc1: loadLinear(w, `${l}.fc1`, d, ffn),
        fc2: loadLinear(w, `${l}.fc2`, ffn, d),
        finalLayerNorm: loadLayerNorm(w, `${l}.final_layer_norm`, d),
      });
    }
    const act = activation(config.activationFunction);
    return new WhisperDecoderStep(config, input, layers, loadLayerNorm(w, `${p}layer_norm`, d), act);
  }

  /** The decoder state at the start token for each clip: encoder states [n, frames, d] → [n, 1, d]. */
  apply(encoderStates: Tensor): Tensor {
    const d = this.config.dModel;
    if (encoderStates.rank !== 3 || encoderStates.shape[2] !== d) {
      throw new Error(`WhisperDecoderStep: encoder states must be [n, frames, ${d}], got [${encoderStates.shape}]`);
    }
    return tf.tidy(() => {
      let h = tf.tile(this.input, [encoderStates.shape[0]!, 1, 1]);
      for (const l of this.layers) {
        // One query position: causal self-attention sees only itself, so no mask is needed.
        h = tf.add(h, l.selfAttn.apply(l.selfAttnLayerNorm.apply(h)));
        h = tf.add(h, l.encoderAttn.apply(l.encoderAttnLayerNorm.apply(h), encoderStates));
        h = tf.add(h, l.fc2.apply(this.act(l.fc1.apply(l.finalLayerNorm.apply(h)))));
      }
      return this.layerNorm.apply(h);
    });
  }

  dispose(): void {
    this.input.dispose();
    for (const l of this.layers) {
      l.selfAttn.dispose();
      l.encoderAttn.dispose();
      for (const m of [l.selfAttnLayerNorm, l.encoderAttnLayerNorm, l.fc1, l.fc2, l.finalLayerNorm]) m.dispose();
    }
    this.layerNorm.dispose();
  }
}

/** Row `index` of the [rows, d] table `name`, read from the stored bytes without converting the whole table. */
function row(w: WhisperWeights, name: string, index: number, d: number, rows: number | null): Tensor {
  const raw = w.getRaw(name, [rows ?? -1, d]);
  const have = raw.shape[0]!;
  if (index >= have) throw new Error(`weight "${name}" has ${have} rows; row ${index} was asked for`);
  const size = d * bytesPerElement(raw.dtype);
  const data = raw.data.subarray(index * size, (index + 1) * size);
  return rawToTensor({ dtype: raw.dtype, shape: [d], data }, name);
}
