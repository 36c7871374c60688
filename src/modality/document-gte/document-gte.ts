/**
 * Documents as a modality, shaped exactly like the seed's `DocumentGTEModality` (document_gte.py) so its
 * projector weights port: name `document_gte`, token `<document>`, data key `documents`, a GTE (BERT) encoder
 * mean-pooled into one embedding per document, `[n, 1, hidden]`, and a vector projector
 * (`document_gte_lmm_projector.mlps.<j>.<i>.*`, 2 layers) making `numTokens` LM tokens of it (4 for
 * `document_gte`, 32 for `document_gte_x16`).
 *
 * Long documents: the seed truncates each document to GTE's 512 tokens (its dataset script pre-splits long
 * texts into several `<document>` items instead). Here a document longer than the encoder's context is split
 * into context-sized chunks, each chunk is encoded and mean-pooled (one embedding per chunk), and the document's
 * embedding is the mean of its chunk embeddings weighted by chunk length — i.e. GTE's `average_pool` over all of
 * the document's tokens, with attention inside each chunk. A document that fits is therefore encoded exactly as
 * the seed encodes it. `longDocuments: 'truncate'` reproduces the seed's truncation instead.
 */
import type { PreTrainedTokenizer } from '@huggingface/transformers';
import { tf, type Tensor } from '../../tf.js';
import type { ProjectorSpec } from '../../projector/projector.js';
import { BertEncoder, meanPool } from '../../encoders/bert.js';
import type { Modality, ModalityConfig, PreprocessContext } from '../modality.js';
import { chunkTokenIds, encoderMaxLength, specialFrame, type SpecialFrame } from './document-chunks.js';
import { documentText } from '../../media/document-text.js';
import { itemLabel } from '../../media/item-bytes.js';
import { maxOf } from '../../util/arrays.js';

/** How a document longer than the encoder's context is handled (see the file comment). */
export type LongDocumentMode = 'mean' | 'truncate';

/** Options of {@link DocumentGTEModality}. */
export interface DocumentGTEOptions {
  encoder: BertEncoder;
  tokenizer: PreTrainedTokenizer;
  /** Where the encoder was loaded from; stored in config.json as `encoder` so the checkpoint can reload it. */
  encoderLocation?: string;
  /** LM tokens per document. Default 4 (the seed's default; `document_gte_x16` uses 32). */
  numTokens?: number;
  /** Projector depth. Default 2. */
  projectorLayers?: number;
  /** Encoder context in tokens, specials included. Default: tokenizer `model_max_length` capped by the model's. */
  maxLength?: number;
  longDocuments?: LongDocumentMode;
  /** Chunks per encoder forward pass (memory vs speed). Default 8. */
  batchSize?: number;
  name?: string;
  token?: string;
  dataKey?: string;
}

/** One row after preprocessing: every chunk's token ids and which document it belongs to. */
export interface DocumentRow {
  documents: number;
  chunks: number[][];
  /** `owner[c]` is the document index of chunk `c`. */
  owner: number[];
}

/** The seed's GTE document modality (see the file comment). */
export class DocumentGTEModality implements Modality<DocumentRow> {
  readonly name: string;
  readonly token: string;
  readonly dataKey: string;
  readonly tokenWidth: number;
  readonly projectorSpec: ProjectorSpec;
  /** Encoder context in tokens, special tokens included. */
  readonly maxLength: number;
  readonly longDocuments: LongDocumentMode;
  private readonly frame: SpecialFrame;

  constructor(readonly options: DocumentGTEOptions) {
    this.name = options.name ?? 'document_gte';
    this.token = options.token ?? '<document>';
    this.dataKey = options.dataKey ?? 'documents';
    this.tokenWidth = options.numTokens ?? 4;
    this.longDocuments = options.longDocuments ?? 'mean';
    const modelMax = options.encoder.config.maxPositionEmbeddings;
    this.maxLength = options.maxLength ?? encoderMaxLength(options.tokenizer, modelMax);
    if (this.maxLength > modelMax) {
      throw new Error(`${this.name}: maxLength ${this.maxLength} exceeds the encoder's max_position_embeddings ${modelMax}`);
    }
    this.frame = specialFrame(options.tokenizer);
    this.projectorSpec = {
      type: 'vector_mlp',
      inputSize: options.encoder.hiddenSize,
      layers: options.projectorLayers ?? 2,
      numTokens: this.tokenWidth,
    };
  }

  /** Splits a text into encoder chunks (token ids with specials), as `preprocess` does for one document. */
  chunkText(text: string): number[][] {
    const ids = this.options.tokenizer.encode(text, { add_special_tokens: false });
    const chunks = chunkTokenIds(ids, this.maxLength, this.frame);
    return this.longDocuments === 'truncate' ? chunks.slice(0, 1) : chunks;
  }

  async preprocess(values: unknown[], ctx?: PreprocessContext): Promise<DocumentRow> {
    const row: DocumentRow = { documents: values.length, chunks: [], owner: [] };
    for (let i = 0; i < values.length; i++) {
      const label = itemLabel(this.dataKey, i, ctx);
      const chunks = this.chunkText(await documentText(values[i], label, ctx));
      if (chunks.length === 0) throw new Error(`${label}: the document is empty (no tokens)`);
      for (const c of chunks) {
        row.chunks.push(c);
        row.owner.push(i);
      }
    }
    return row;
  }

  async encode(rows: DocumentRow[]): Promise<Tensor[]> {
    return Promise.all(rows.map((r) => this.encodeRow(r)));
  }

  private async encodeRow(row: DocumentRow): Promise<Tensor> {
    const h = this.options.encoder.hiddenSize;
    if (row.documents === 0) return tf.zeros([0, 1, h]);
    const batch = this.options.batchSize ?? 8;
    const pooled: Tensor[] = [];
    for (let s = 0; s < row.chunks.length; s += batch) {
      const part = row.chunks.slice(s, s + batch);
      const width = maxOf(part.map((c) => c.length));
      const ids = part.map((c) => [...c, ...new Array<number>(width - c.length).fill(this.options.encoder.config.padTokenId)]);
      const mask = part.map((c) => c.map(() => 1).concat(new Array<number>(width - c.length).fill(0)));
      const hidden = this.options.encoder.forward(ids, mask);
      pooled.push(meanPool(hidden, mask));
      hidden.dispose();
    }
    // Document embedding = chunk embeddings averaged with weights ∝ chunk length (see the file comment).
    const weights = new Float32Array(row.documents * row.chunks.length);
    const totals = new Array<number>(row.documents).fill(0);
    row.chunks.forEach((c, j) => (totals[row.owner[j]!] += c.length));
    row.chunks.forEach((c, j) => (weights[row.owner[j]! * row.chunks.length + j] = c.length / totals[row.owner[j]!]!));
    return tf.tidy(() => {
      const all = pooled.length === 1 ? pooled[0]! : tf.concat(pooled, 0);
      const mixed = tf.matMul(tf.tensor2d(weights, [row.documents, row.chunks.length]), all);
      for (const p of pooled) p.dispose();
      return mixed.reshape([row.documents, 1, h]);
    });
  }

  toConfig(): ModalityConfig {
    const c: ModalityConfig = {
      kind: 'document_gte',
      name: this.name,
      token: this.token,
      dataKey: this.dataKey,
      numTokens: this.tokenWidth,
      projectorLayers: this.projectorSpec.layers,
      longDocuments: this.longDocuments,
    };
    if (this.options.encoderLocation !== undefined) c.encoder = this.options.encoderLocation;
    if (this.options.maxLength !== undefined) c.maxLength = this.options.maxLength;
    return c;
  }

  dispose(): void {
    this.options.encoder.dispose();
  }
}
