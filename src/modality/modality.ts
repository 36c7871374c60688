import type { Tensor, Variable } from '../tf.js';
import type { ProjectorSpec } from '../projector/projector.js';

/**
 * A modality: how one kind of input (images, audio clips, documents, game-state vectors…) becomes LM tokens.
 * The same contract as the Python library's `Modality`, so a modality ports across with its projector
 * weights:
 *
 * - `token` marks where an item goes in the text (`<image>`), `dataKey` is where a dataset row lists the items
 *   (`images`), and each item becomes `tokenWidth` LM input positions.
 * - `preprocess` turns one row's raw items (paths, URLs, bytes, arrays) into encoder-ready data on the CPU.
 * - `encode` runs the frozen encoder on a batch of rows: one `[items, featureTokens, featureDim]` tensor per
 *   row (items may be 0).
 * - `projectorSpec` describes the trainable projector `[items, featureTokens, featureDim] →
 *   [items, tokenWidth, lmHidden]`, stored as `<name>_lmm_projector.*`. Training and loading both build it from
 *   the spec (`initProjector` / `projectorFromWeights`), so what trains is what reloads.
 */
export interface Modality<Pre = unknown> {
  readonly name: string;
  readonly token: string;
  readonly dataKey: string;
  readonly tokenWidth: number;
  /** The projector, kept in config.json: the one description both training and loading build it from. */
  readonly projectorSpec: ProjectorSpec;
  preprocess(values: unknown[], ctx?: PreprocessContext): Promise<Pre>;
  encode(rows: Pre[]): Promise<Tensor[]>;
  /** JSON-serialisable options that rebuild this modality through its builder (stored in config.json). */
  toConfig(): ModalityConfig;
  /** Frees encoder weights. */
  dispose?(): void;
  /**
   * `encode` run synchronously, for finetuning the encoder: gradients are recorded only for ops run inside the
   * trainer's (synchronous) gradient function. Required with `encoderParameters`.
   */
  encodeSync?(rows: Pre[]): Tensor[];
  /** Encoder parameters by name, for modalities whose encoder can be finetuned (`train --train_encoders`). */
  encoderParameters?(): Map<string, Variable>;
  /** The encoder's files with its current weights (config, processor config, model.safetensors), for saving. */
  exportEncoder?(): Promise<Map<string, Uint8Array | string>>;
}

/**
 * What `preprocess` may use to fetch items: a resolver of paths/URLs/data URLs to bytes, supplied by the
 * environment (Node reads files and fetches URLs with limits; the browser fetches or takes File objects).
 */
export interface PreprocessContext {
  loadBytes?: (ref: string) => Promise<Uint8Array>;
  /** For errors: which dataset row or request is being processed. */
  rowId?: string;
}

/** How a modality is described in `config.json` (`multi_token.modalities[]`). */
export interface ModalityConfig {
  /** Registry kind that rebuilds it, e.g. 'vector', 'vision_clip'. */
  kind: string;
  name: string;
  token: string;
  dataKey: string;
  [option: string]: unknown;
}
