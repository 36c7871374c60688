import { tf, type Tensor } from '../../tf.js';
import type { ProjectorSpec } from '../../projector/projector.js';
import type { Modality, ModalityConfig, PreprocessContext } from '../modality.js';

export interface VectorModalityOptions {
  /** Length of every vector. */
  dim: number;
  /** LM tokens per vector (parallel MLPs in the projector). Default 1. */
  numTokens?: number;
  /** Projector depth (1 = linear). Default 2, like the seed's projectors. */
  projectorLayers?: number;
  name?: string;
  token?: string;
  dataKey?: string;
}

/**
 * Plain float vectors as a modality: game state, sensor readings, precomputed embeddings (the seed's
 * lunar-lander example). There is no encoder; each vector goes straight to a vector projector that makes
 * `numTokens` LM tokens of it.
 */
export class VectorModality implements Modality<Float32Array[]> {
  readonly name: string;
  readonly token: string;
  readonly dataKey: string;
  readonly tokenWidth: number;
  readonly projectorSpec: ProjectorSpec;

  constructor(readonly options: VectorModalityOptions) {
    if (!Number.isInteger(options.dim) || options.dim < 1) throw new Error(`vector modality: dim must be a positive integer`);
    this.name = options.name ?? 'vector';
    this.token = options.token ?? '<vector>';
    this.dataKey = options.dataKey ?? 'vectors';
    this.tokenWidth = options.numTokens ?? 1;
    this.projectorSpec = {
      type: 'vector_mlp',
      inputSize: options.dim,
      layers: options.projectorLayers ?? 2,
      numTokens: this.tokenWidth,
    };
  }

  async preprocess(values: unknown[], ctx?: PreprocessContext): Promise<Float32Array[]> {
    return values.map((v, i) => {
      const where = `${ctx?.rowId !== undefined ? `row ${JSON.stringify(ctx.rowId)}: ` : ''}${this.dataKey}[${i}]`;
      if (!Array.isArray(v) && !(v instanceof Float32Array)) throw new Error(`${where} must be an array of numbers`);
      if (v.length !== this.options.dim) throw new Error(`${where} has length ${v.length}, expected ${this.options.dim}`);
      const out = Float32Array.from(v as ArrayLike<number>);
      if (out.some((x) => !Number.isFinite(x))) throw new Error(`${where} contains a non-finite value`);
      return out;
    });
  }

  async encode(rows: Float32Array[][]): Promise<Tensor[]> {
    const d = this.options.dim;
    return rows.map((items) => {
      const flat = new Float32Array(items.length * d);
      items.forEach((v, i) => flat.set(v, i * d));
      return tf.tensor3d(flat, [items.length, 1, d]);
    });
  }

  toConfig(): ModalityConfig {
    return {
      kind: 'vector',
      name: this.name,
      token: this.token,
      dataKey: this.dataKey,
      dim: this.options.dim,
      numTokens: this.tokenWidth,
      projectorLayers: this.projectorSpec.layers,
    };
  }
}
