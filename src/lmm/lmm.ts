import { tf, type Tensor } from '../tf.js';
import type { LlamaForCausalLM } from '../lm/llama.js';
import { causalLMLoss } from '../lm/loss.js';
import type { Modality, PreprocessContext } from '../modality/modality.js';
import { RowError } from '../util/row-error.js';
import type { Projector } from '../projector/projector.js';
import type { ChatTokenizer } from '../chat/chat-tokenizer.js';
import { encodeChat, type ChatRow, type EncodedChat, type EncodeChatOptions } from '../chat/encode-chat.js';
import type { Batch } from '../data/collate.js';
import { mergeEmbeddings, spliceEmbeddings } from '../splice/splice.js';
import type { SpliceLayout } from '../splice/layout.js';
import type { LoraAdapter } from '../lora/lora-linear.js';
import { loraParameters } from '../lora/lora.js';
import { defaultLoadBytes } from '../io/default-loader.js';

/** Where the checkpoint came from, written back into config.json and the model card. */
export interface LMMMeta {
  /** The seed's `model_cls` (e.g. `MistralLMMForCausalLM`). */
  modelCls?: string;
  /** The seed's `modality_builder` name. */
  modalityBuilder?: string;
  /** Base model path or id the LM weights came from. */
  baseModel?: string;
}

/** Per-modality encoder outputs for a batch: rows concatenated, `[items, featureTokens, featureDim]`, or null. */
export type BatchFeatures = (Tensor | null)[];

/**
 * A large multimodal model: a Llama-family LM, its modalities (frozen encoders) and one trainable projector
 * per modality. The data path is the seed's `prepare_inputs_labels_for_multimodal`, split into explicit steps:
 * encode chat → preprocess items → encode (frozen) → project → merge into the token embeddings → LM.
 */
export class LMM {
  /** LoRA adapters by module name, when the LM is being (or was) finetuned with LoRA. */
  lora: Map<string, LoraAdapter> | null = null;

  constructor(
    readonly lm: LlamaForCausalLM,
    readonly tokenizer: ChatTokenizer,
    readonly modalities: Modality[],
    readonly projectors: Projector[],
    readonly meta: LMMMeta = {},
  ) {
    if (modalities.length !== projectors.length) throw new Error('one projector per modality');
    const names = new Set<string>();
    const tokens = new Set<string>();
    for (const m of modalities) {
      if (names.has(m.name)) throw new Error(`two modalities are named "${m.name}"`);
      if (tokens.has(m.token)) throw new Error(`two modalities use the token ${m.token}`);
      names.add(m.name);
      tokens.add(m.token);
    }
  }

  get tokenWidths(): number[] {
    return this.modalities.map((m) => m.tokenWidth);
  }

  /** Tokenises one conversation (see `encodeChat`). */
  encodeRow(row: ChatRow, opts: EncodeChatOptions = {}, index?: number): EncodedChat {
    return encodeChat(row, this.tokenizer, this.modalities, opts, index);
  }

  /** Preprocesses every row's items, `[modality][row]` → modality-specific data (CPU). */
  async preprocess(items: unknown[][][], rowIds: string[], context: Omit<PreprocessContext, 'rowId'> = {}): Promise<unknown[][]> {
    const ctx = { ...context, loadBytes: context.loadBytes ?? defaultLoadBytes() ?? undefined };
    return Promise.all(
      this.modalities.map((m, mi) =>
        Promise.all(
          items[mi].map(async (values, b) => {
            try {
              return await m.preprocess(values, { ...ctx, rowId: rowIds[b] });
            } catch (e) {
              if (e instanceof RowError) throw e;
              throw new RowError(rowIds[b], `${m.dataKey}: ${(e as Error).message}`);
            }
          }),
        ),
      ),
    );
  }

  /**
   * Runs the frozen encoders. Returns one tensor per modality with every row's items concatenated (row order),
   * or null for a modality with no items in this batch. Checked against the layout's item counts.
   */
  async encode(pre: unknown[][], layout: SpliceLayout, rowIds: string[]): Promise<BatchFeatures> {
    const out: BatchFeatures = [];
    for (let mi = 0; mi < this.modalities.length; mi++) {
      const m = this.modalities[mi];
      const perRow = await m.encode(pre[mi]);
      perRow.forEach((t, b) => {
        const want = layout.itemCounts[mi][b];
        if (t.shape[0] !== want) {
          throw new RowError(rowIds[b], `${m.name} encoder returned ${t.shape[0]} item(s) for ${want} ${m.token} token(s)`);
        }
      });
      const nonEmpty = perRow.filter((t) => t.shape[0] > 0);
      out.push(nonEmpty.length ? tf.concat(nonEmpty, 0) : null);
      for (const t of perRow) t.dispose();
    }
    return out;
  }

  /**
   * `encode` for trainable encoders: synchronous, so it can run inside a gradient tape (see
   * `Modality.encodeSync`). Returns the same concatenated per-modality features.
   */
  encodeSync(pre: unknown[][], layout: SpliceLayout, rowIds: string[]): BatchFeatures {
    return this.modalities.map((m, mi) => {
      if (!m.encodeSync) throw new Error(`the ${m.name} modality cannot run its encoder inside a gradient (no encodeSync)`);
      const perRow = m.encodeSync(pre[mi]);
      perRow.forEach((t, b) => {
        const want = layout.itemCounts[mi][b];
        if (t.shape[0] !== want) throw new RowError(rowIds[b], `${m.name} encoder returned ${t.shape[0]} item(s) for ${want} ${m.token} token(s)`);
      });
      const nonEmpty = perRow.filter((t) => t.shape[0] > 0);
      return nonEmpty.length ? tf.concat(nonEmpty, 0) : null;
    });
  }

  /** Projects features to LM rows `[R, D]` in the layout's order (modality, row, instance, offset). */
  project(features: BatchFeatures, training = false): Tensor {
    const D = this.lm.config.hiddenSize;
    return tf.tidy(() => {
      const parts: Tensor[] = [];
      features.forEach((f, mi) => {
        if (!f) return;
        const y = this.projectors[mi].apply(f, training);
        const [n, w] = y.shape as number[];
        if (w !== this.modalities[mi].tokenWidth || y.shape[2] !== D) {
          throw new Error(
            `${this.modalities[mi].name} projector output [${y.shape}] should be [${n}, ${this.modalities[mi].tokenWidth}, ${D}]`,
          );
        }
        parts.push(y.reshape([n * w, D]));
      });
      return parts.length ? tf.concat(parts, 0) : tf.zeros([0, D]);
    });
  }

  /** Input embeddings `[B, T, D]`: token embeddings with projected modality rows spliced in. */
  embed(layout: SpliceLayout, projected: Tensor): Tensor {
    if (this.lm.embedTokens) return mergeEmbeddings(this.lm.embedTokens, layout, projected);
    // An engine holds the table (outside tfjs memory): look the ids up there, then splice.
    return tf.tidy(() => {
      const ids = tf.tensor2d(layout.tokenIds, [layout.batchSize, layout.seqLen], 'int32');
      return spliceEmbeddings(this.lm.embed(ids), layout, projected);
    });
  }

  /**
   * Training forward: logits and the shifted cross-entropy over the batch's labels. `features` come from
   * `encode` (or a feature cache). The returned tensors belong to the caller.
   */
  forward(batch: Batch, features: BatchFeatures, training = false): { loss: Tensor; logits: Tensor; count: number } {
    const res = tf.tidy(() => {
      const projected = this.project(features, training);
      const embeds = this.embed(batch.layout, projected);
      const { logits, hidden } = this.lm.forward({ inputsEmbeds: embeds, attentionMask: batch.attentionMask, training });
      hidden.dispose();
      return logits!;
    });
    const { loss, count } = causalLMLoss(res, batch.labels);
    return { loss, logits: res, count };
  }

  /** Loss only (for optimizers: a scalar produced inside the gradient tape). */
  loss(batch: Batch, features: BatchFeatures, training = true): Tensor {
    const { loss, logits } = this.forward(batch, features, training);
    logits.dispose();
    return loss;
  }

  /** Projector parameters under the seed's names: `model.<modality>_lmm_projector.<param>`. */
  projectorParameters(): Map<string, tf.Variable> {
    const m = new Map<string, tf.Variable>();
    this.modalities.forEach((mod, i) => {
      for (const [n, v] of this.projectors[i].parameters()) m.set(`model.${mod.name}_lmm_projector.${n}`, v);
    });
    return m;
  }

  /** LoRA parameters under PEFT names, or an empty map. */
  loraParameters(): Map<string, tf.Variable> {
    return this.lora ? loraParameters(this.lora) : new Map();
  }

  dispose(): void {
    this.lm.dispose();
    for (const p of this.projectors) p.dispose();
    for (const m of this.modalities) m.dispose?.();
    if (this.lora) for (const a of this.lora.values()) a.dispose();
  }
}
