import { tf, type Tensor } from '../tf.js';
import { LayerNorm } from '../nn/norms.js';
import { readJSON, joinLocation, type ModelSource } from '../io/source.js';
import { WeightStore, readWeightFiles } from '../io/weights.js';
import { parseCLIPVisionConfig, clipGridSize, type CLIPVisionConfig } from './clip-config.js';
import { CLIPEncoderLayer } from './clip-layer.js';
import { PatchEmbedding } from './patch-embed.js';

export type { CLIPVisionConfig } from './clip-config.js';

/** What {@link CLIPVisionEncoder.forward} returns; the caller owns (and disposes) every tensor. */
export interface CLIPVisionOutput {
  /** Encoder output `[n, 1 + patches, hidden]` (CLS first), before `post_layernorm`, as HF's `last_hidden_state`. */
  lastHiddenState: Tensor;
  /** `post_layernorm` of the CLS token, `[n, hidden]`: HF's `pooler_output`. */
  pooled: Tensor;
  /**
   * With `outputHiddenStates`: `numHiddenLayers + 1` tensors like HF's `hidden_states` — the encoder input
   * (embeddings after `pre_layrnorm`), then each layer's output. `hiddenStates[length - 2]` is LLaVA's feature layer.
   */
  hiddenStates?: Tensor[];
}

const PATCH_KEY = 'embeddings.patch_embedding.weight';
/** Buffers some checkpoints save under the vision prefix that carry no learned values. */
const IGNORED_UNDER_PREFIX = new Set(['embeddings.position_ids']);

/**
 * Finds where the vision tower's weights live in a checkpoint: `vision_model.` (CLIPVisionModel or a full
 * CLIPModel), `` (the tower saved on its own), or deeper (e.g. a LLaVA checkpoint's
 * `model.vision_tower.vision_tower.vision_model.`). Prefers `vision_model.`, then the shortest prefix.
 */
function visionPrefix(store: WeightStore): string {
  const found = store
    .keys()
    .filter((k) => k === PATCH_KEY || k.endsWith(`.${PATCH_KEY}`))
    .map((k) => k.slice(0, k.length - PATCH_KEY.length));
  if (found.length === 0) {
    throw new Error(`${store.location}: no CLIP vision weights (no tensor named "vision_model.${PATCH_KEY}" or "${PATCH_KEY}")`);
  }
  return found.includes('vision_model.') ? 'vision_model.' : found.sort((a, b) => a.length - b.length)[0]!;
}

/**
 * CLIP's vision transformer (Hugging Face `CLIPVisionModel`) in tfjs, frozen: the image encoder of LLaVA and
 * of the `vision_clip` modalities. Weights load by their HF names from a `CLIPVisionModel` or full `CLIPModel`
 * checkpoint (text tower, `visual_projection` and `logit_scale` are ignored).
 */
export class CLIPVisionEncoder {
  private constructor(
    readonly config: CLIPVisionConfig,
    private readonly patchEmbedding: PatchEmbedding,
    private readonly classEmbedding: tf.Variable,
    private readonly positionEmbedding: tf.Variable,
    private readonly preLayerNorm: LayerNorm,
    readonly layers: CLIPEncoderLayer[],
    private readonly postLayerNorm: LayerNorm,
  ) {}

  /** Loads `config.json` and the weights (`model.safetensors`, sharded, or `pytorch_model.bin`) from `source`. */
  static async load(source: ModelSource): Promise<CLIPVisionEncoder> {
    const config = parseCLIPVisionConfig(await readJSON(source, 'config.json'), joinLocation(source.location, 'config.json'));
    const store = new WeightStore(await readWeightFiles(source), source.location);
    return CLIPVisionEncoder.fromWeights(store, config);
  }

  /**
   * Builds the encoder from already-read weights. Throws, naming the tensors, if a weight is missing or
   * mis-shaped, or if the vision tower has weights the config does not use (e.g. more layers than
   * `num_hidden_layers`), which means config and weights do not belong together.
   */
  static fromWeights(store: WeightStore, config: CLIPVisionConfig): CLIPVisionEncoder {
    const prefix = visionPrefix(store);
    const c = config;
    const d = c.hiddenSize;
    // Layers wrap what `get` returns in variables, which share the data; the loaded tensors themselves are
    // disposed at the end so that `dispose()` later frees the memory.
    const loaded: Tensor[] = [];
    const get = (name: string, shape: number[]) => {
      const t = store.get(prefix + name, shape);
      loaded.push(t);
      return t;
    };
    const made: { dispose(): void }[] = [];
    const keep = <T extends { dispose(): void }>(m: T): T => (made.push(m), m);
    try {
      const patchW = get(`${PATCH_KEY}`, [d, c.numChannels, c.patchSize, c.patchSize]);
      const patch = keep(new PatchEmbedding(patchW, c.patchSize));
      const positions = clipGridSize(c) ** 2 + 1;
      const cls = keep(tf.variable(get('embeddings.class_embedding', [d]), false));
      const pos = keep(tf.variable(get('embeddings.position_embedding.weight', [positions, d]), false));
      const ln = (name: string) => keep(new LayerNorm(get(`${name}.weight`, [d]), get(`${name}.bias`, [d]), c.layerNormEps));
      // "pre_layrnorm" (sic) is the real Hugging Face name.
      const pre = ln('pre_layrnorm');
      const layers: CLIPEncoderLayer[] = [];
      for (let i = 0; i < c.numHiddenLayers; i++) {
        layers.push(keep(CLIPEncoderLayer.load((n, s) => get(`encoder.layers.${i}.${n}`, s), c)));
      }
      const post = ln('post_layernorm');
      const extra = store
        .unused()
        .filter((k) => k.startsWith(prefix) && !IGNORED_UNDER_PREFIX.has(k.slice(prefix.length)));
      if (extra.length > 0) {
        const list = extra.slice(0, 5).join(', ') + (extra.length > 5 ? `, … (${extra.length} in all)` : '');
        throw new Error(
          `${store.location}: weights not used by a ${c.numHiddenLayers}-layer CLIP vision config: ${list}; ` +
            'does config.json belong to these weights?',
        );
      }
      return new CLIPVisionEncoder(c, patch, cls, pos, pre, layers, post);
    } catch (e) {
      for (const m of made) m.dispose();
      throw e;
    } finally {
      for (const t of loaded) t.dispose();
    }
  }

  /** Width of every token, `hidden_size`. */
  get hiddenSize(): number {
    return this.config.hiddenSize;
  }

  /** Patch tokens per image, `(image_size / patch_size)²` (the CLS token not counted). */
  get numPatches(): number {
    return clipGridSize(this.config) ** 2;
  }

  /** The square input size in pixels the position embeddings were trained for. */
  get imageSize(): number {
    return this.config.imageSize;
  }

  /** Runs the whole tower on `pixelValues [n, channels, image_size, image_size]` (CLIP-normalised, NCHW). */
  forward(pixelValues: Tensor, opts: { outputHiddenStates?: boolean } = {}): CLIPVisionOutput {
    const want = opts.outputHiddenStates === true;
    const [last, pooled, ...states] = tf.tidy(() => {
      const states: Tensor[] = [];
      let h = this.preLayerNorm.apply(this.embed(pixelValues));
      for (const layer of this.layers) {
        if (want) states.push(h);
        h = layer.apply(h);
      }
      if (want) states.push(h);
      return [h, this.pool(h), ...states];
    });
    return want ? { lastHiddenState: last!, pooled: pooled!, hiddenStates: states } : { lastHiddenState: last!, pooled: pooled! };
  }

  /**
   * One entry of HF's `hidden_states` (`index` may be negative, Python-style) without running the layers after
   * it or keeping the others: `hiddenState(x, -2)` is LLaVA's feature layer for the cost of L−1 layers.
   */
  hiddenState(pixelValues: Tensor, index: number): Tensor {
    const count = this.layers.length + 1;
    const i = index < 0 ? count + index : index;
    if (!Number.isInteger(i) || i < 0 || i >= count) {
      throw new Error(`hidden state index ${index} is out of range for ${this.layers.length} layers (${count} hidden states)`);
    }
    return tf.tidy(() => {
      let h = this.preLayerNorm.apply(this.embed(pixelValues));
      for (let l = 0; l < i; l++) h = this.layers[l]!.apply(h);
      return h;
    });
  }

  /** `post_layernorm(h[:, 0])`: the pooled image embedding from a last hidden state `[n, T, hidden]`. */
  pool(lastHiddenState: Tensor): Tensor {
    return tf.tidy(() => {
      const [n, , d] = lastHiddenState.shape as number[];
      return this.postLayerNorm.apply(lastHiddenState.slice([0, 0, 0], [n, 1, d]).reshape([n, d]));
    });
  }

  /** Patch + class + position embeddings, `[n, 1 + patches, hidden]`. */
  private embed(pixelValues: Tensor): Tensor {
    const { numChannels: ch, imageSize: s } = this.config;
    const [n, c, h, w] = pixelValues.shape as number[];
    if (pixelValues.rank !== 4 || c !== ch || h !== s || w !== s) {
      throw new Error(
        `CLIP vision encoder: pixel values have shape [${pixelValues.shape}], expected [n, ${ch}, ${s}, ${s}] ` +
          '(NCHW at the size the position embeddings were trained for; preprocess with the checkpoint\'s image processor)',
      );
    }
    return tf.tidy(() => {
      const patches = this.patchEmbedding.apply(pixelValues);
      const d = this.hiddenSize;
      const cls = tf.tile(this.classEmbedding.reshape([1, 1, d]), [n, 1, 1]);
      return tf.add(tf.concat([cls, patches], 1), this.positionEmbedding);
    });
  }

  /**
   * Parameters by their HF names (under `vision_model.`), for finetuning the tower. The patch embedding is kept
   * in tfjs conv layout `[p, p, channels, hidden]`; `stateDict()` converts it back for saving.
   */
  parameters(): Map<string, tf.Variable> {
    const m = new Map<string, tf.Variable>();
    const add = (prefix: string, params: Map<string, tf.Variable>) => {
      for (const [n, v] of params) m.set(`vision_model.${prefix}${n}`, v);
    };
    m.set(`vision_model.${PATCH_KEY}`, this.patchEmbedding.filter);
    m.set('vision_model.embeddings.class_embedding', this.classEmbedding);
    m.set('vision_model.embeddings.position_embedding.weight', this.positionEmbedding);
    add('pre_layrnorm.', this.preLayerNorm.parameters());
    this.layers.forEach((l, i) => add(`encoder.layers.${i}.`, l.parameters()));
    add('post_layernorm.', this.postLayerNorm.parameters());
    return m;
  }

  /** Weights in Hugging Face layout and names (a new tensor for the patch filter; the caller disposes it). */
  stateDict(): Map<string, Tensor> {
    const m = new Map<string, Tensor>(this.parameters());
    m.set(`vision_model.${PATCH_KEY}`, this.patchEmbedding.filter.transpose([3, 2, 0, 1]));
    return m;
  }

  /** Frees every weight. */
  dispose(): void {
    this.patchEmbedding.dispose();
    this.classEmbedding.dispose();
    this.positionEmbedding.dispose();
    this.preLayerNorm.dispose();
    for (const l of this.layers) l.dispose();
    this.postLayerNorm.dispose();
  }
}
