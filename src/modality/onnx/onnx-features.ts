/**
 * An encoder exported to ONNX, run through ONNX Runtime: one `.onnx` file, the input its main tensor goes to,
 * the output read back, how items are preprocessed, and how the output is pooled into features
 * `[items, featureTokens, featureDim]` for a projector.
 *
 * Output layouts: `[batch, D]` (already pooled, e.g. CLAP's `audio_embeds`) → `[n, 1, D]`; `[batch, T, D]` →
 * `pooling: 'none'` keeps the T tokens (T must be fixed), `'mean'` averages them (skipping text padding), `'cls'`
 * takes the first → `[n, 1, D]`.
 */
import { tf, type Tensor } from '../../tf.js';
import { createOnnxSession, type OnnxSession, type OnnxShape, type OnnxTensor } from '../../encoders/onnx-runtime.js';
import { joinLocation, ModelFileError, type ModelSource } from '../../io/source.js';
import type { PreprocessContext } from '../modality.js';
import { makeOnnxPreprocessor, type OnnxItemFeeds, type OnnxItemPreprocessor, type OnnxPreprocessKind } from './onnx-preprocess.js';

export type OnnxPooling = 'none' | 'mean' | 'cls';

/** How to run one ONNX encoder (all names relative to the encoder folder). */
export interface OnnxEncoderSpec {
  /** The `.onnx` file, e.g. `'encoder.onnx'` or `'onnx/audio_model.onnx'`. */
  model: string;
  /** Graph input for the preprocessed tensor; default: the graph's only input. */
  input?: string;
  /** Graph output to read; default: the graph's first output. */
  output?: string;
  preprocess: OnnxPreprocessKind;
  pooling?: OnnxPooling;
  /** Feature width; default: the output's declared last dim. */
  featureDim?: number;
  /** Tokens per item when `pooling` is `'none'` on a `[batch, T, D]` output; default: the declared T. */
  featureTokens?: number;
  /** `audio_waveform` rate. */
  samplingRate?: number;
  /** `text`: tokenizer folder (default: the encoder folder). */
  tokenizer?: ModelSource;
  /** `text`: pad to the tokenizer's max length. */
  padText?: boolean;
}

/** A loaded ONNX encoder. */
export class OnnxEncoder {
  private constructor(
    readonly session: OnnxSession,
    readonly spec: OnnxEncoderSpec,
    readonly input: string,
    readonly output: string,
    readonly featureDim: number,
    readonly featureTokens: number,
    private readonly prep: OnnxItemPreprocessor,
  ) {}

  /** The model file's full location, for messages. */
  get file(): string {
    return this.session.location;
  }

  /**
   * Loads `spec.model` from `source` and checks the names and shapes against the graph. Errors name the file:
   * a missing `.onnx`, an input or output the graph does not have, an output that is not `[batch, D]` or
   * `[batch, T, D]`, a feature size that cannot be determined.
   */
  static async load(source: ModelSource, spec: OnnxEncoderSpec): Promise<OnnxEncoder> {
    const file = joinLocation(source.location, spec.model);
    if (!(await source.exists(spec.model))) throw new ModelFileError(`missing ONNX model ${file}`);
    const session = await createOnnxSession(await source.readFile(spec.model), file);
    try {
      const pick = (given: string | undefined, names: readonly string[], what: 'input' | 'output') => {
        if (given !== undefined) {
          if (!names.includes(given)) throw new ModelFileError(`${file} has no ${what} "${given}" (its ${what}s: ${names.join(', ')})`);
          return given;
        }
        if (what === 'input' && names.length !== 1) {
          throw new ModelFileError(`${file} has ${names.length} inputs (${names.join(', ')}); name the one to feed with "input"`);
        }
        return names[0]!;
      };
      const input = pick(spec.input, session.inputNames, 'input');
      const output = pick(spec.output, session.outputNames, 'output');
      const shape = session.shapeOf(output);
      const pooling = spec.pooling ?? 'none';
      if (shape.length !== 0 && shape.length !== 2 && shape.length !== 3) {
        throw new ModelFileError(`${file}: output "${output}" is [${shape.join(', ')}]; expected [batch, D] or [batch, tokens, D]`);
      }
      if (shape.length === 2 && pooling !== 'none') {
        throw new ModelFileError(`${file}: output "${output}" is [batch, D], already pooled; use pooling "none"`);
      }
      const last = shape[shape.length - 1];
      const featureDim = spec.featureDim ?? (typeof last === 'number' ? last : undefined);
      if (featureDim === undefined) {
        throw new ModelFileError(`${file}: output "${output}" does not declare its feature size; set "featureDim"`);
      }
      if (typeof last === 'number' && last !== featureDim) {
        throw new ModelFileError(`${file}: output "${output}" has ${last} features, but featureDim is ${featureDim}`);
      }
      const featureTokens = tokensFor(shape, pooling, spec.featureTokens, file, output);
      const prep = await makeOnnxPreprocessor({
        kind: spec.preprocess,
        input,
        session,
        source,
        tokenizerSource: spec.tokenizer,
        samplingRate: spec.samplingRate,
        padText: spec.padText,
      });
      return new OnnxEncoder(session, spec, input, output, featureDim, featureTokens, prep);
    } catch (e) {
      await session.release();
      throw e;
    }
  }

  /** Preprocesses one item (see `onnx-preprocess.ts`). */
  preprocessItem(item: unknown, label: string, ctx?: PreprocessContext): Promise<OnnxItemFeeds> {
    return this.prep(item, label, ctx);
  }

  /**
   * Runs the encoder on preprocessed items → `[n, featureTokens, featureDim]`. Items whose inputs have equal
   * shapes run as one batch when the graph's batch dim is dynamic; others run one by one.
   */
  async encode(items: OnnxItemFeeds[]): Promise<Tensor> {
    if (items.length === 0) return tf.zeros([0, this.featureTokens, this.featureDim]);
    const sig = (it: OnnxItemFeeds) => Object.entries(it.feeds).map(([k, t]) => `${k}:${t.dims.join('x')}`).sort().join(';');
    const batchable = this.session.shapeOf(this.input)[0] !== 1 && items.every((it) => sig(it) === sig(items[0]!));
    const groups = batchable ? [items] : items.map((it) => [it]);
    const parts: Tensor[] = [];
    try {
      for (const g of groups) parts.push(await this.run(g));
      return parts.length === 1 ? parts[0]! : tf.concat(parts, 0);
    } finally {
      if (parts.length > 1) for (const p of parts) p.dispose();
    }
  }

  private async run(items: OnnxItemFeeds[]): Promise<Tensor> {
    const feeds: Record<string, OnnxTensor> = {};
    for (const name of Object.keys(items[0]!.feeds)) feeds[name] = stack(items.map((it) => it.feeds[name]!));
    const out = (await this.session.run(feeds, [this.output]))[this.output];
    if (!out) throw new Error(`${this.file}: the run returned no "${this.output}"`);
    if (out.type !== 'float32') throw new Error(`${this.file}: output "${this.output}" is ${out.type}, expected float32`);
    const dims = out.dims;
    const n = items.length;
    const bad = () => new Error(`${this.file}: output "${this.output}" came back as [${dims.join(', ')}] for ${n} item(s)`);
    if (dims[0] !== n || dims[dims.length - 1] !== this.featureDim || (dims.length !== 2 && dims.length !== 3)) throw bad();
    if (dims.length === 2 && this.featureTokens !== 1) throw bad();
    return tf.tidy(() => {
      const y = tf.tensor(out.data as Float32Array, [...dims], 'float32');
      if (dims.length === 2) return y.reshape([n, 1, this.featureDim]);
      const pooling = this.spec.pooling ?? 'none';
      if (pooling === 'cls') return y.slice([0, 0, 0], [n, 1, this.featureDim]);
      if (pooling === 'mean') {
        const t = dims[1]!;
        const mask = tf.tensor2d(items.flatMap((it) => (it.mask && it.mask.length === t ? it.mask : new Array<number>(t).fill(1))), [n, t]);
        const summed = tf.sum(tf.mul(y, mask.expandDims(-1)), 1, true);
        return tf.div(summed, tf.maximum(tf.sum(mask, 1), 1e-9).reshape([n, 1, 1]));
      }
      if (dims[1] !== this.featureTokens) {
        throw new Error(`${this.file}: output "${this.output}" has ${dims[1]} tokens per item, expected ${this.featureTokens}`);
      }
      return y;
    });
  }

  release(): Promise<void> {
    return this.session.release();
  }
}

function tokensFor(shape: OnnxShape, pooling: OnnxPooling, given: number | undefined, file: string, output: string): number {
  if (shape.length === 2 || pooling !== 'none') return 1;
  const declared = shape.length === 3 && typeof shape[1] === 'number' ? shape[1] : undefined;
  if (given !== undefined && declared !== undefined && given !== declared) {
    throw new ModelFileError(`${file}: output "${output}" has ${declared} tokens, but ${given} were configured`);
  }
  const t = given ?? declared;
  if (t === undefined) {
    throw new ModelFileError(`${file}: output "${output}" has no fixed token count; set "numTokens" or pool with "mean"/"cls"`);
  }
  return t;
}

/** Concatenates batch-1 tensors along the batch dim. */
function stack(ts: OnnxTensor[]): OnnxTensor {
  if (ts.length === 1) return ts[0]!;
  const first = ts[0]!;
  const size = first.data.length;
  const Ctor = first.data.constructor as new (n: number) => OnnxTensor['data'];
  const data = new Ctor(size * ts.length);
  ts.forEach((t, i) => (data as Float32Array).set(t.data as Float32Array, i * size));
  return { type: first.type, data, dims: [ts.length, ...first.dims.slice(1)] };
}
