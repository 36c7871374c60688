/**
 * X-CLIP's video encoder (Hugging Face `XCLIPModel`'s video path) in tfjs, frozen: what the seed's `video_xclip`
 * modality feeds its projector (`outputs.video_embeds`).
 *
 * - Vision tower: a CLIP ViT on every frame, where each layer first builds one "message token" per frame from its
 *   CLS token (`message_fc`), lets the frames of a video attend to each other's messages (`message_ln`,
 *   `message_attn`, residual), appends its frame's message to the frame's tokens for the self-attention, and drops
 *   it again before the MLP: cross-frame communication.
 * - `post_layernorm` of each frame's CLS, `visual_projection` to `projection_dim`.
 * - Multi-frame integration transformer (MIT): + a position embedding per frame, CLIP encoder layers over the
 *   frames, + the input again (residual), mean over frames.
 * - L2-normalised, as `XCLIPModel.forward` returns `video_embeds`.
 *
 * The text tower and the prompt generator only shape X-CLIP's text embeddings and are not loaded.
 */
import { tf, type Tensor } from '../tf.js';
import { Linear } from '../nn/linear.js';
import { LayerNorm } from '../nn/norms.js';
import { activation } from '../nn/activations.js';
import { joinLocation, readJSON, type ModelSource } from '../io/source.js';
import { readWeightFiles, WeightStore } from '../io/weights.js';
import { CLIPEncoderLayer } from './clip-layer.js';
import { PatchEmbedding } from './patch-embed.js';
import { parseXCLIPConfig, type XCLIPVideoConfig } from './xclip-config.js';
import type { CLIPVisionConfig } from './clip-config.js';

/** Multi-head attention with HF's CLIP layout (`q_proj`, `k_proj`, `v_proj`, `out_proj`, no mask): `[n, t, d]`. */
class Attention {
  constructor(
    readonly q: Linear,
    readonly k: Linear,
    readonly v: Linear,
    readonly out: Linear,
    readonly heads: number,
  ) {}

  apply(x: Tensor): Tensor {
    return tf.tidy(() => {
      const [n, t, d] = x.shape as number[];
      const hd = d / this.heads;
      const split = (y: Tensor) => y.reshape([n, t, this.heads, hd]).transpose([0, 2, 1, 3]);
      const q = split(tf.mul(this.q.apply(x), 1 / Math.sqrt(hd)));
      const probs = tf.softmax(tf.matMul(q, split(this.k.apply(x)), false, true), -1);
      return this.out.apply(tf.matMul(probs, split(this.v.apply(x))).transpose([0, 2, 1, 3]).reshape([n, t, d]));
    });
  }

  dispose(): void {
    for (const m of [this.q, this.k, this.v, this.out]) m.dispose();
  }
}

type Get = (name: string, shape: number[]) => Tensor;

/** One `XCLIPVisionEncoderLayer` (the original's `CrossFramelAttentionBlock`). */
class CrossFrameLayer {
  private readonly act: (x: Tensor) => Tensor;

  constructor(
    private readonly messageFc: Linear,
    private readonly messageLn: LayerNorm,
    private readonly messageAttn: Attention,
    private readonly selfAttn: Attention,
    private readonly ln1: LayerNorm,
    private readonly fc1: Linear,
    private readonly fc2: Linear,
    private readonly ln2: LayerNorm,
    hiddenAct: string,
  ) {
    this.act = activation(hiddenAct);
  }

  static load(get: Get, c: CLIPVisionConfig): CrossFrameLayer {
    const d = c.hiddenSize;
    const lin = (name: string, out: number, inp: number) => new Linear(get(`${name}.weight`, [out, inp]), get(`${name}.bias`, [out]));
    const ln = (name: string) => new LayerNorm(get(`${name}.weight`, [d]), get(`${name}.bias`, [d]), c.layerNormEps);
    const attn = (name: string) => new Attention(lin(`${name}.q_proj`, d, d), lin(`${name}.k_proj`, d, d), lin(`${name}.v_proj`, d, d), lin(`${name}.out_proj`, d, d), c.numAttentionHeads);
    return new CrossFrameLayer(
      lin('message_fc', d, d), ln('message_ln'), attn('message_attn'), attn('self_attn'),
      ln('layer_norm1'), lin('mlp.fc1', c.intermediateSize, d), lin('mlp.fc2', d, c.intermediateSize), ln('layer_norm2'), c.hiddenAct,
    );
  }

  /** `x: [videos·frames, tokens, d]` → same shape. */
  apply(x: Tensor, frames: number): Tensor {
    return tf.tidy(() => {
      const [bt, s, d] = x.shape as number[];
      const cls = x.slice([0, 0, 0], [bt, 1, d]).reshape([bt, d]);
      let msg = this.messageFc.apply(cls).reshape([bt / frames, frames, d]);
      msg = tf.add(msg, this.messageAttn.apply(this.messageLn.apply(msg)));
      const withMsg = tf.concat([x, msg.reshape([bt, 1, d])], 1);
      const attended = tf.add(withMsg, this.selfAttn.apply(this.ln1.apply(withMsg))).slice([0, 0, 0], [bt, s, d]);
      return tf.add(attended, this.fc2.apply(this.act(this.fc1.apply(this.ln2.apply(attended)))));
    });
  }

  dispose(): void {
    for (const m of [this.messageFc, this.messageLn, this.messageAttn, this.selfAttn, this.ln1, this.fc1, this.fc2, this.ln2]) m.dispose();
  }
}

/** Weights under these prefixes belong to the text side and are not needed for video embeddings. */
const TEXT_SIDE = ['text_model.', 'text_projection.', 'prompts_generator.', 'prompts_visual_layernorm.', 'prompts_visual_projection', 'logit_scale'];

/** X-CLIP's video encoder: `[videos·frames, 3, H, W]` pixel values → `[videos, projection_dim]` video embeddings. */
export class XCLIPVideoEncoder {
  private constructor(
    readonly config: XCLIPVideoConfig,
    private readonly patchEmbedding: PatchEmbedding,
    private readonly classEmbedding: tf.Variable,
    private readonly positionEmbedding: tf.Variable,
    private readonly preLayerNorm: LayerNorm,
    private readonly layers: CrossFrameLayer[],
    private readonly postLayerNorm: LayerNorm,
    private readonly visualProjection: Linear,
    private readonly mitPosition: tf.Variable,
    private readonly mitLayers: CLIPEncoderLayer[],
  ) {}

  /** Loads `config.json` (an `XCLIPConfig`) and the weights from `source`. */
  static async load(source: ModelSource): Promise<XCLIPVideoEncoder> {
    const config = parseXCLIPConfig(await readJSON(source, 'config.json'), joinLocation(source.location, 'config.json'));
    return XCLIPVideoEncoder.fromWeights(new WeightStore(await readWeightFiles(source), source.location), config);
  }

  /** Builds the encoder; errors name missing or mis-shaped tensors, and unused vision/MIT weights (a config mismatch). */
  static fromWeights(store: WeightStore, config: XCLIPVideoConfig): XCLIPVideoEncoder {
    const v = config.vision;
    const d = v.hiddenSize;
    const p = config.projectionDim;
    const loaded: Tensor[] = [];
    const get: Get = (name, shape) => {
      const t = store.get(name, shape);
      loaded.push(t);
      return t;
    };
    const made: { dispose(): void }[] = [];
    const keep = <T extends { dispose(): void }>(m: T): T => (made.push(m), m);
    try {
      const vm = (n: string) => `vision_model.${n}`;
      const patch = keep(new PatchEmbedding(get(vm('embeddings.patch_embedding.weight'), [d, v.numChannels, v.patchSize, v.patchSize]), v.patchSize));
      const grid = v.imageSize / v.patchSize;
      const cls = keep(tf.variable(get(vm('embeddings.class_embedding'), [d]), false));
      const pos = keep(tf.variable(get(vm('embeddings.position_embedding.weight'), [grid * grid + 1, d]), false));
      const ln = (name: string, width: number) => keep(new LayerNorm(get(`${name}.weight`, [width]), get(`${name}.bias`, [width]), v.layerNormEps));
      const pre = ln(vm('pre_layernorm'), d);
      const layers = Array.from({ length: v.numHiddenLayers }, (_, i) => keep(CrossFrameLayer.load((n, s) => get(vm(`encoder.layers.${i}.${n}`), s), v)));
      const post = ln(vm('post_layernorm'), d);
      const proj = keep(new Linear(get('visual_projection.weight', [p, d])));
      const mitPos = keep(tf.variable(get('mit.position_embedding', [1, config.numFrames, p]), false));
      const mitConfig: CLIPVisionConfig = { ...v, hiddenSize: p, intermediateSize: config.mit.intermediateSize, numAttentionHeads: config.mit.numAttentionHeads, numHiddenLayers: config.mit.numHiddenLayers };
      const mit = Array.from({ length: config.mit.numHiddenLayers }, (_, i) => keep(CLIPEncoderLayer.load((n, s) => get(`mit.encoder.layers.${i}.${n}`, s), mitConfig)));
      const extra = store.unused().filter((k) => !TEXT_SIDE.some((t) => k.startsWith(t)) && !k.endsWith('position_ids'));
      if (extra.length) {
        throw new Error(`${store.location}: weights not used by this X-CLIP config: ${extra.slice(0, 5).join(', ')}${extra.length > 5 ? `, … (${extra.length})` : ''}; does config.json belong to these weights?`);
      }
      return new XCLIPVideoEncoder(config, patch, cls, pos, pre, layers, post, proj, mitPos, mit);
    } catch (e) {
      for (const m of made) m.dispose();
      throw e;
    } finally {
      for (const t of loaded) t.dispose();
    }
  }

  /** Frames per video the model was trained with (its MIT has one position per frame). */
  get numFrames(): number {
    return this.config.numFrames;
  }

  /** Width of a video embedding, `projection_dim`. */
  get embedDim(): number {
    return this.config.projectionDim;
  }

  get imageSize(): number {
    return this.config.vision.imageSize;
  }

  /**
   * `pixelValues [videos·numFrames, 3, S, S]` (frames of a video consecutive) → L2-normalised video embeddings
   * `[videos, projection_dim]`, as `XCLIPModel(...).video_embeds`. `normalize: false` gives `get_video_features`.
   */
  forward(pixelValues: Tensor, opts: { normalize?: boolean } = {}): Tensor {
    const v = this.config.vision;
    const t = this.config.numFrames;
    const [bt, c, h, w] = pixelValues.shape as number[];
    if (pixelValues.rank !== 4 || c !== v.numChannels || h !== v.imageSize || w !== v.imageSize || bt! % t !== 0) {
      throw new Error(`X-CLIP video encoder: pixel values have shape [${pixelValues.shape}], expected [videos·${t}, ${v.numChannels}, ${v.imageSize}, ${v.imageSize}]`);
    }
    return tf.tidy(() => {
      const d = v.hiddenSize;
      const patches = this.patchEmbedding.apply(pixelValues);
      let x = tf.add(tf.concat([tf.tile(this.classEmbedding.reshape([1, 1, d]), [bt!, 1, 1]), patches], 1), this.positionEmbedding);
      x = this.preLayerNorm.apply(x);
      for (const layer of this.layers) x = layer.apply(x, t);
      const pooled = this.postLayerNorm.apply(x.slice([0, 0, 0], [bt!, 1, d]).reshape([bt!, d]));
      const frames = this.visualProjection.apply(pooled).reshape([bt! / t, t, this.embedDim]);
      let m = tf.add(frames, this.mitPosition);
      for (const layer of this.mitLayers) m = layer.apply(m);
      const video = tf.mean(tf.add(m, frames), 1);
      if (opts.normalize === false) return video;
      return tf.div(video, tf.norm(video, 2, -1, true));
    });
  }

  dispose(): void {
    for (const m of [this.patchEmbedding, this.classEmbedding, this.positionEmbedding, this.preLayerNorm, ...this.layers, this.postLayerNorm, this.visualProjection, this.mitPosition, ...this.mitLayers]) m.dispose();
  }
}
