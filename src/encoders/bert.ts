/**
 * A BERT encoder in tfjs with Hugging Face weight names — the text tower of GTE (`thenlper/gte-*`), BGE, E5 and
 * the MiniLM sentence encoders, all of which are plain `BertModel`s. It is frozen here (document encoders are
 * not trained in the LMM), so parameters are non-trainable variables.
 */
import { tf, type Tensor, type Tensor2D, type Tensor3D } from '../tf.js';
import { Linear } from '../nn/linear.js';
import { LayerNorm } from '../nn/norms.js';
import { activation } from '../nn/activations.js';
import { readJSON, joinLocation, type ModelSource } from '../io/source.js';
import { readWeightFiles, WeightStore } from '../io/weights.js';
import { parseBertConfig, type BertConfig } from './bert-config.js';

export type { BertConfig } from './bert-config.js';
export { parseBertConfig } from './bert-config.js';

/** The weight lookup the loader needs (a `WeightStore`, or a map in tests). */
export interface BertWeights {
  get(name: string, shape?: number[]): Tensor;
  has(name: string): boolean;
}

/** Token ids / masks as a `[batch, seq]` int tensor or nested arrays (rows must have equal length). */
export type BatchInput = Tensor2D | number[][];

/** Additive attention bias for masked keys; large but finite so a fully-masked row still gives numbers. */
const MASKED = -1e9;

/** One `encoder.layer.N`: post-norm self-attention and GELU MLP, as in `transformers.BertLayer`. */
class BertLayer {
  constructor(
    readonly query: Linear,
    readonly key: Linear,
    readonly value: Linear,
    readonly attnOut: Linear,
    readonly attnNorm: LayerNorm,
    readonly intermediate: Linear,
    readonly output: Linear,
    readonly outNorm: LayerNorm,
    readonly heads: number,
    readonly act: (x: Tensor) => Tensor,
  ) {}

  /** x: `[B, T, H]`; bias: additive `[B, 1, 1, T]`. */
  apply(x: Tensor, bias: Tensor): Tensor {
    return tf.tidy(() => {
      const [b, t, h] = x.shape as number[];
      const d = h / this.heads;
      const split = (y: Tensor) => y.reshape([b, t, this.heads, d]).transpose([0, 2, 1, 3]);
      const q = split(this.query.apply(x));
      const k = split(this.key.apply(x));
      const v = split(this.value.apply(x));
      const scores = tf.add(tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(d)), bias);
      const context = tf.matMul(tf.softmax(scores, -1), v).transpose([0, 2, 1, 3]).reshape([b, t, h]);
      const attended = this.attnNorm.apply(tf.add(this.attnOut.apply(context), x));
      const hidden = this.output.apply(this.act(this.intermediate.apply(attended)));
      return this.outNorm.apply(tf.add(hidden, attended));
    });
  }

  dispose(): void {
    for (const l of [this.query, this.key, this.value, this.attnOut, this.intermediate, this.output]) l.dispose();
    this.attnNorm.dispose();
    this.outNorm.dispose();
  }
}

/**
 * `BertModel` without the pooler: embeddings (word + absolute position + token type, LayerNorm) and the
 * encoder stack. `forward` returns `last_hidden_state`; {@link meanPool} turns it into sentence embeddings the
 * way GTE does.
 */
export class BertEncoder {
  private constructor(
    readonly config: BertConfig,
    private readonly wordEmbeddings: tf.Variable,
    private readonly positionEmbeddings: tf.Variable,
    private readonly tokenTypeEmbeddings: tf.Variable,
    private readonly embeddingNorm: LayerNorm,
    private readonly layers: BertLayer[],
  ) {}

  /** Builds from weights named as in HF (`embeddings.*`, `encoder.layer.N.*`), with or without `bert.`. */
  static fromWeights(config: BertConfig, w: BertWeights): BertEncoder {
    const p = w.has('embeddings.word_embeddings.weight') || !w.has('bert.embeddings.word_embeddings.weight') ? '' : 'bert.';
    const { hiddenSize: h, intermediateSize: f, layerNormEps: eps } = config;
    const lin = (name: string, out: number, inp: number) =>
      new Linear(w.get(`${p}${name}.weight`, [out, inp]), w.get(`${p}${name}.bias`, [out]));
    const norm = (name: string) => new LayerNorm(w.get(`${p}${name}.weight`, [h]), w.get(`${p}${name}.bias`, [h]), eps);
    const act = activation(config.hiddenAct);
    const layers: BertLayer[] = [];
    for (let i = 0; i < config.numHiddenLayers; i++) {
      const l = `encoder.layer.${i}`;
      layers.push(
        new BertLayer(
          lin(`${l}.attention.self.query`, h, h),
          lin(`${l}.attention.self.key`, h, h),
          lin(`${l}.attention.self.value`, h, h),
          lin(`${l}.attention.output.dense`, h, h),
          norm(`${l}.attention.output.LayerNorm`),
          lin(`${l}.intermediate.dense`, f, h),
          lin(`${l}.output.dense`, h, f),
          norm(`${l}.output.LayerNorm`),
          config.numAttentionHeads,
          act,
        ),
      );
    }
    const emb = (name: string, rows: number) => tf.variable(w.get(`${p}embeddings.${name}.weight`, [rows, h]), false);
    return new BertEncoder(
      config,
      emb('word_embeddings', config.vocabSize),
      emb('position_embeddings', config.maxPositionEmbeddings),
      emb('token_type_embeddings', config.typeVocabSize),
      norm('embeddings.LayerNorm'),
      layers,
    );
  }

  /**
   * Loads `config.json` and the weights (`model.safetensors`, sharded, or `pytorch_model.bin`) from a folder or
   * URL. The pooler (`pooler.dense`) is not used and is ignored if present.
   */
  static async load(source: ModelSource): Promise<BertEncoder> {
    const config = parseBertConfig(await readJSON(source, 'config.json'), joinLocation(source.location, 'config.json'));
    const store = new WeightStore(await readWeightFiles(source), source.location);
    return BertEncoder.fromWeights(config, store);
  }

  /** Hidden width (the embedding size, 1024 for gte-large). */
  get hiddenSize(): number {
    return this.config.hiddenSize;
  }

  /**
   * `last_hidden_state` `[B, T, hidden]` for token ids `[B, T]` and an attention mask `[B, T]` (1 = token,
   * 0 = padding). Token type ids default to 0 (single segment), as the tokenizer makes them for one text.
   */
  forward(inputIds: BatchInput, attentionMask: BatchInput, tokenTypeIds?: BatchInput): Tensor3D {
    const ids = toInt2D(inputIds, 'inputIds');
    const mask = toInt2D(attentionMask, 'attentionMask');
    const types = tokenTypeIds ? toInt2D(tokenTypeIds, 'tokenTypeIds') : tf.zerosLike(ids);
    try {
      const [b, t] = ids.shape;
      if (mask.shape[0] !== b || mask.shape[1] !== t || types.shape[0] !== b || types.shape[1] !== t) {
        throw new Error(`BERT inputs disagree: inputIds [${ids.shape}], attentionMask [${mask.shape}], tokenTypeIds [${types.shape}]`);
      }
      if (t > this.config.maxPositionEmbeddings) {
        throw new Error(`BERT input has ${t} tokens; this model takes at most ${this.config.maxPositionEmbeddings}`);
      }
      let x = tf.tidy(() => {
        const positions = tf.range(0, t, 1, 'int32');
        const summed = tf.add(
          tf.add(tf.gather(this.wordEmbeddings, ids), tf.gather(this.positionEmbeddings, positions).expandDims(0)),
          tf.gather(this.tokenTypeEmbeddings, types),
        );
        return this.embeddingNorm.apply(summed);
      });
      const bias = tf.tidy(() => tf.mul(tf.sub(1, tf.cast(mask, 'float32')), MASKED).reshape([b, 1, 1, t]));
      for (const layer of this.layers) {
        // One tidy per layer keeps peak memory to a single layer's activations.
        const next = layer.apply(x, bias);
        x.dispose();
        x = next;
      }
      bias.dispose();
      return x as Tensor3D;
    } finally {
      for (const [given, made] of [[inputIds, ids], [attentionMask, mask], [tokenTypeIds, types]] as const) {
        if (given !== made) made.dispose();
      }
    }
  }

  dispose(): void {
    this.wordEmbeddings.dispose();
    this.positionEmbeddings.dispose();
    this.tokenTypeEmbeddings.dispose();
    this.embeddingNorm.dispose();
    for (const l of this.layers) l.dispose();
  }
}

/**
 * GTE's `average_pool`: the mean of `hidden` `[B, T, H]` over the positions where `mask` `[B, T]` is 1 →
 * `[B, H]`. A row with no tokens gives zeros rather than NaN (the denominator is clamped, as
 * sentence-transformers does).
 */
export function meanPool(hidden: Tensor, mask: BatchInput): Tensor2D {
  return tf.tidy(() => {
    const m = tf.cast(Array.isArray(mask) ? tf.tensor2d(mask, undefined, 'int32') : mask, 'float32');
    const summed = tf.sum(tf.mul(hidden, m.expandDims(-1)), 1);
    return tf.div(summed, tf.maximum(tf.sum(m, 1, true), 1e-9)) as Tensor2D;
  });
}

function toInt2D(x: BatchInput, what: string): Tensor2D {
  if (!Array.isArray(x)) {
    if (x.rank !== 2) throw new Error(`${what} must be [batch, seq], got shape [${x.shape}]`);
    return x.dtype === 'int32' ? x : tf.cast(x, 'int32');
  }
  const width = x[0]?.length ?? 0;
  if (x.length === 0 || width === 0) throw new Error(`${what} is empty`);
  if (x.some((r) => r.length !== width)) throw new Error(`${what} rows have different lengths; pad them first`);
  return tf.tensor2d(x.flat(), [x.length, width], 'int32');
}
