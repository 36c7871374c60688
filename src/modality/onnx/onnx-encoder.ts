/**
 * A modality backed by any encoder exported to ONNX (kind `onnx`): the user names the file, its input and
 * output, the preprocessing and the pooling, and gets features `[n, tokens_or_1, featureDim]` and a projector —
 * a vector projector (`numTokens` parallel MLPs, the seed's `build_mlp_vector_projector`) for pooled features, a
 * patch projector (the seed's `build_patch_mlp_projector`) when every output token is kept.
 *
 * config.json entry / builder options:
 * `{kind: 'onnx', name, token, dataKey, encoder?: 'folder', model: 'encoder.onnx', input?, output?,
 *   preprocess: 'image_clip' | 'audio_whisper_mel' | 'audio_clap' | 'audio_waveform' | 'text' | 'vector' | 'raw',
 *   pooling?: 'none' | 'mean' | 'cls', numTokens?, projectorLayers?, featureDim?, samplingRate?, tokenizer?,
 *   padText?}`. `encoder` defaults to the checkpoint folder; `model` is relative to it.
 */
import type { Tensor } from '../../tf.js';
import type { ProjectorSpec } from '../../projector/projector.js';
import type { Modality, ModalityConfig, PreprocessContext } from '../modality.js';
import type { BuildContext } from '../registry.js';
import { openEncoderSource } from '../encoder-location.js';
import { itemLabel } from '../../media/item-bytes.js';
import { OnnxEncoder, type OnnxEncoderSpec, type OnnxPooling } from './onnx-features.js';
import { ONNX_PREPROCESS_KINDS, type OnnxItemFeeds, type OnnxPreprocessKind } from './onnx-preprocess.js';
import { choiceOption, intOption, optionalString, stringOption, type Options } from '../option-readers.js';

/** The encoder fields of an options object, validated; `tokenizer` stays a location string. */
export type OnnxSpecOptions = Omit<OnnxEncoderSpec, 'tokenizer'> & { tokenizer?: string };

/** Reads and checks the encoder fields (`model`, `input`, `output`, `preprocess`, …) of an options object. */
export function onnxSpecFrom(o: Options, owner: string, defaults: Partial<OnnxSpecOptions> = {}): OnnxSpecOptions {
  const merged = { ...defaults, ...o } as Options;
  if (merged.preprocess === undefined) {
    throw new Error(`${owner}: option "preprocess" is required (one of ${ONNX_PREPROCESS_KINDS.join(', ')})`);
  }
  const optInt = (k: string) => (merged[k] === undefined ? undefined : intOption(merged, k, owner));
  const spec: OnnxSpecOptions = {
    model: stringOption(merged, 'model', owner),
    input: optionalString(merged, 'input', owner),
    output: optionalString(merged, 'output', owner),
    preprocess: choiceOption<OnnxPreprocessKind>(merged, 'preprocess', owner, ONNX_PREPROCESS_KINDS, 'raw'),
    pooling: choiceOption<OnnxPooling>(merged, 'pooling', owner, ['none', 'mean', 'cls'], 'none'),
    featureDim: optInt('featureDim'),
    samplingRate: optInt('samplingRate'),
    tokenizer: optionalString(merged, 'tokenizer', owner),
  };
  if (merged.padText !== undefined) spec.padText = merged.padText === true;
  return spec;
}

/** Loads an encoder from its spec options, resolving the tokenizer folder against the encoder folder. */
export async function loadOnnxEncoder(where: string, spec: OnnxSpecOptions, ctx: BuildContext, featureTokens?: number): Promise<OnnxEncoder> {
  const source = await openEncoderSource(where, ctx, spec.model);
  const tokenizer = spec.tokenizer === undefined ? undefined : await openEncoderSource(spec.tokenizer, { ...ctx, source }, 'tokenizer.json');
  return OnnxEncoder.load(source, { ...spec, tokenizer, featureTokens });
}

/** Options of {@link OnnxModality}. */
export interface OnnxModalityOptions {
  name: string;
  token: string;
  dataKey: string;
  encoder: OnnxEncoder;
  /** LM tokens per item for pooled features (vector projector width). Default 1. */
  numTokens?: number;
  projectorLayers?: number;
  /** The config.json entry that rebuilds this modality. */
  config: ModalityConfig;
}

/** Any ONNX encoder as a modality (see the file comment). */
export class OnnxModality implements Modality<OnnxItemFeeds[]> {
  readonly name: string;
  readonly token: string;
  readonly dataKey: string;
  readonly tokenWidth: number;
  readonly projectorSpec: ProjectorSpec;
  readonly encoder: OnnxEncoder;

  constructor(private readonly options: OnnxModalityOptions) {
    const { encoder } = options;
    this.name = options.name;
    this.token = options.token;
    this.dataKey = options.dataKey;
    this.encoder = encoder;
    const layers = options.projectorLayers ?? 2;
    if (encoder.featureTokens > 1) {
      if (options.numTokens !== undefined && options.numTokens !== encoder.featureTokens) {
        throw new Error(`modality "${this.name}": ${encoder.file} gives ${encoder.featureTokens} tokens per item, numTokens is ${options.numTokens}`);
      }
      this.tokenWidth = encoder.featureTokens;
      this.projectorSpec = { type: 'patch_mlp', inputSize: encoder.featureDim, layers };
    } else {
      this.tokenWidth = options.numTokens ?? 1;
      this.projectorSpec = { type: 'vector_mlp', inputSize: encoder.featureDim, layers, numTokens: this.tokenWidth };
    }
  }

  async preprocess(values: unknown[], ctx?: PreprocessContext): Promise<OnnxItemFeeds[]> {
    const out: OnnxItemFeeds[] = [];
    for (let i = 0; i < values.length; i++) out.push(await this.encoder.preprocessItem(values[i], itemLabel(this.dataKey, i, ctx), ctx));
    return out;
  }

  async encode(rows: OnnxItemFeeds[][]): Promise<Tensor[]> {
    const out: Tensor[] = [];
    for (const row of rows) out.push(await this.encoder.encode(row));
    return out;
  }

  toConfig(): ModalityConfig {
    return { ...this.options.config };
  }

  dispose(): void {
    void this.encoder.release();
  }
}

/**
 * Builds an {@link OnnxModality} from options (config.json entry or builder options), with `defaults` filling
 * what a preset (`audio_clap`) fixes. The returned modality's config is the merged options, kind `onnx`.
 */
export async function onnxModalityFrom(o: Options, ctx: BuildContext, defaults: Options = {}): Promise<OnnxModality> {
  const m = { ...defaults, ...o };
  const name = stringOption(m, 'name', 'onnx modality');
  const owner = `modality ${JSON.stringify(name)}`;
  const spec = onnxSpecFrom(m, owner);
  const numTokens = m.numTokens === undefined ? undefined : intOption(m, 'numTokens', owner);
  const where = stringOption(m, 'encoder', owner, '.');
  // With pooling 'none', numTokens is the token count of a [batch, T, D] output (checked against the graph); for a
  // pooled [batch, D] output the encoder ignores it and it becomes the vector projector's width.
  let encoder: OnnxEncoder;
  try {
    encoder = await loadOnnxEncoder(where, spec, ctx, spec.pooling === 'none' ? numTokens : undefined);
  } catch (e) {
    throw new Error(`${owner}: ${(e as Error).message}`);
  }
  const config: ModalityConfig = {
    ...m,
    kind: 'onnx',
    name,
    token: stringOption(m, 'token', owner, `<${name}>`),
    dataKey: stringOption(m, 'dataKey', owner, `${name}s`),
    encoder: where,
    ...spec,
    featureDim: encoder.featureDim,
  } as ModalityConfig;
  for (const k of Object.keys(config)) if (config[k] === undefined) delete config[k];
  return new OnnxModality({
    name,
    token: config.token,
    dataKey: config.dataKey,
    encoder,
    numTokens,
    projectorLayers: intOption(m, 'projectorLayers', owner, 2),
    config,
  });
}
