/**
 * The seed's `imagebind` builder, on ONNX encoders: one modality (`imagebind`, token `<imagebind>`, data key
 * `imagebinds`, 4 LM tokens, vector projector from the 1024-d joint space) whose items may be images, audio or
 * text, because ImageBind embeds all of them in one space. Each kind of item runs through its own ONNX tower:
 *
 * - `vision` (default file `vision.onnx`, `image_clip` preprocessing — ImageBind uses CLIP's 224 px
 *   normalisation),
 * - `audio` (`audio.onnx`, `audio_waveform` at 16 kHz: export the tower with its kaldi-fbank front end inside,
 *   or pick another preprocessing),
 * - `text` (`text.onnx`, `text` with the folder's CLIP tokenizer, padded to its max length as ImageBind does).
 *
 * A tower is used when its option is given (a file name, or an object of ONNX encoder fields) or its default
 * file exists; `false` turns one off. All towers must produce the same feature size (the shared space).
 *
 * Items are routed like the seed's `filename_to_imagebind_modality`: a string ending in `.wav` is audio, in
 * `.jpg`/`.jpeg`/`.png` an image (any case), anything else is the text itself. `{image|vision}`, `{audio}` or
 * `{text}` objects say it explicitly (bytes, decoded audio, a text that looks like a file name).
 */
import { tf, type Tensor } from '../../tf.js';
import type { ProjectorSpec } from '../../projector/projector.js';
import type { Modality, ModalityConfig, PreprocessContext } from '../modality.js';
import type { BuildContext } from '../registry.js';
import { itemLabel } from '../../media/item-bytes.js';
import type { OnnxEncoder } from './onnx-features.js';
import type { OnnxItemFeeds } from './onnx-preprocess.js';
import { loadOnnxEncoder, onnxSpecFrom, type OnnxSpecOptions } from './onnx-encoder.js';
import { openEncoderSource } from '../encoder-location.js';
import { intOption, stringOption, type Options } from '../option-readers.js';

/** ImageBind's towers. */
export const IMAGEBIND_PARTS = ['vision', 'audio', 'text'] as const;
export type ImageBindPart = (typeof IMAGEBIND_PARTS)[number];

const PART_DEFAULTS: Record<ImageBindPart, Partial<OnnxSpecOptions>> = {
  vision: { model: 'vision.onnx', preprocess: 'image_clip' },
  audio: { model: 'audio.onnx', preprocess: 'audio_waveform', samplingRate: 16000 },
  text: { model: 'text.onnx', preprocess: 'text', padText: true },
};

/** Which tower an item goes to, and the value to preprocess (the seed's extension rule, see the file comment). */
export function imagebindRoute(item: unknown): { part: ImageBindPart; value: unknown } {
  if (typeof item === 'string') {
    const path = item.split(/[?#]/)[0]!.toLowerCase();
    if (path.endsWith('.wav')) return { part: 'audio', value: item };
    if (/\.(jpe?g|png)$/.test(path)) return { part: 'vision', value: item };
    return { part: 'text', value: item };
  }
  if (typeof item === 'object' && item !== null) {
    const o = item as Record<string, unknown>;
    if (o.image !== undefined || o.vision !== undefined) return { part: 'vision', value: o.image ?? o.vision };
    if (o.audio !== undefined) return { part: 'audio', value: o.audio };
    if (typeof o.text === 'string') return { part: 'text', value: o.text };
  }
  return { part: 'text', value: item };
}

/** One preprocessed imagebind item. */
export interface ImageBindItem {
  part: ImageBindPart;
  feeds: OnnxItemFeeds;
}

/** The seed's ImageBind modality over ONNX towers. */
export class ImageBindModality implements Modality<ImageBindItem[]> {
  readonly name = 'imagebind';
  readonly token = '<imagebind>';
  readonly dataKey = 'imagebinds';
  readonly tokenWidth: number;
  readonly projectorSpec: ProjectorSpec;
  readonly featureDim: number;

  constructor(
    readonly towers: Partial<Record<ImageBindPart, OnnxEncoder>>,
    private readonly config: ModalityConfig,
    numTokens = 4,
    projectorLayers = 2,
  ) {
    const loaded = Object.entries(towers) as [ImageBindPart, OnnxEncoder][];
    if (loaded.length === 0) throw new Error('imagebind: no tower loaded');
    this.featureDim = loaded[0]![1].featureDim;
    for (const [part, enc] of loaded) {
      if (enc.featureDim !== this.featureDim || enc.featureTokens !== 1) {
        throw new Error(
          `imagebind: the ${part} tower ${enc.file} gives [${enc.featureTokens}, ${enc.featureDim}] features; every tower ` +
            `must give one ${this.featureDim}-d embedding (the shared space)`,
        );
      }
    }
    this.tokenWidth = numTokens;
    this.projectorSpec = { type: 'vector_mlp', inputSize: this.featureDim, layers: projectorLayers, numTokens };
  }

  async preprocess(values: unknown[], ctx?: PreprocessContext): Promise<ImageBindItem[]> {
    const out: ImageBindItem[] = [];
    for (let i = 0; i < values.length; i++) {
      const label = itemLabel(this.dataKey, i, ctx);
      const { part, value } = imagebindRoute(values[i]);
      const tower = this.towers[part];
      if (!tower) {
        const have = Object.keys(this.towers).join(', ');
        throw new Error(`${label}: is ${part === 'vision' ? 'an image' : part}, but this imagebind model has no ${part} tower (it has: ${have})`);
      }
      out.push({ part, feeds: await tower.preprocessItem(value, label, ctx) });
    }
    return out;
  }

  async encode(rows: ImageBindItem[][]): Promise<Tensor[]> {
    const out: Tensor[] = [];
    for (const row of rows) {
      // Each tower encodes its items in one go; the rows are then put back in item order.
      const slots: Tensor[] = new Array(row.length);
      for (const part of IMAGEBIND_PARTS) {
        const idx = row.flatMap((it, i) => (it.part === part ? [i] : []));
        if (idx.length === 0) continue;
        const feats = await this.towers[part]!.encode(idx.map((i) => row[i]!.feeds));
        tf.unstack(feats, 0).forEach((t, k) => (slots[idx[k]!] = t));
        feats.dispose();
      }
      out.push(row.length === 0 ? tf.zeros([0, 1, this.featureDim]) : tf.tidy(() => tf.stack(slots, 0)));
      for (const s of slots) s?.dispose();
    }
    return out;
  }

  toConfig(): ModalityConfig {
    return { ...this.config };
  }

  dispose(): void {
    for (const t of Object.values(this.towers)) void t.release();
  }
}

/**
 * Builds the imagebind modality. Options: `encoder` (folder with the towers; default the checkpoint),
 * `vision` / `audio` / `text` (file name, ONNX encoder fields, or `false`), `numTokens` (4), `projectorLayers` (2).
 */
export async function imagebindFrom(o: Options, ctx: BuildContext): Promise<ImageBindModality> {
  const owner = 'modality "imagebind"';
  const where = stringOption(o, 'encoder', owner, '.');
  const folder = await openEncoderSource(where, ctx, 'vision.onnx');
  const towers: Partial<Record<ImageBindPart, OnnxEncoder>> = {};
  const specs: Record<string, OnnxSpecOptions> = {};
  for (const part of IMAGEBIND_PARTS) {
    const given = o[part];
    if (given === false) continue;
    const fields: Options = typeof given === 'string' ? { model: given } : typeof given === 'object' && given !== null ? (given as Options) : {};
    const spec = onnxSpecFrom(fields, `${owner} ${part}`, PART_DEFAULTS[part]);
    if (given === undefined && !(await folder.exists(spec.model))) continue;
    try {
      towers[part] = await loadOnnxEncoder('.', spec, { ...ctx, source: folder });
    } catch (e) {
      for (const t of Object.values(towers)) await t.release();
      throw new Error(`${owner} ${part} tower: ${(e as Error).message}`);
    }
    specs[part] = spec;
  }
  if (Object.keys(towers).length === 0) {
    const files = IMAGEBIND_PARTS.map((p) => PART_DEFAULTS[p].model).join(', ');
    throw new Error(`${owner}: no tower found in ${folder.location} (looked for ${files}; or name the files in the options)`);
  }
  const numTokens = intOption(o, 'numTokens', owner, 4);
  const projectorLayers = intOption(o, 'projectorLayers', owner, 2);
  const config: ModalityConfig = {
    kind: 'imagebind',
    name: 'imagebind',
    token: '<imagebind>',
    dataKey: 'imagebinds',
    encoder: where,
    numTokens,
    projectorLayers,
    ...Object.fromEntries(IMAGEBIND_PARTS.map((p) => [p, specs[p] ? JSON.parse(JSON.stringify(specs[p])) : false])),
  };
  return new ImageBindModality(towers, config, numTokens, projectorLayers);
}
