/**
 * Where a modality's encoder lives. Builders get a location string from their options (`encoder: 'gte-large'`,
 * `'/models/gte-large'`, `'https://…/gte-large'`) and must turn it into a `ModelSource`, in Node and in the
 * browser alike.
 */
import { hasLocalSources, resolveRelative, resolveSource, SubSource, type ModelSource } from '../io/source.js';
import { hubUrlSource, parseHubId } from '../io/hub-id.js';
import type { BuildContext } from './registry.js';

const isAbsolute = (where: string) => /^https?:\/\//i.test(where) || where.startsWith('/') || /^[A-Za-z]:[\\/]/.test(where);

/**
 * Opens an encoder location. URLs and absolute paths open directly (with `ctx.open` when given). A relative
 * path is first looked for inside the checkpoint (`ctx.source`), so a checkpoint that ships its encoder in a
 * subfolder is self-contained; if `probe` (a file the encoder must have) is not there, the path is opened on
 * its own, relative to the working directory or page (a command-line `--encoder ./gte-large`), or as a Hugging
 * Face id (`openai/clip-vit-large-patch14-336`). `''` or `'.'` means the checkpoint itself.
 */
export async function openEncoderSource(where: string, ctx: BuildContext, probe: string): Promise<ModelSource> {
  const open = ctx.open ?? resolveSource;
  const clean = where.replace(/^\.\/+/, '').replace(/\/+$/, '');
  if (clean === '' || clean === '.') {
    if (!ctx.source) throw new Error(`encoder location "${where}" means the checkpoint folder, but none is being loaded`);
    return ctx.source;
  }
  if (isAbsolute(where)) return open(where);
  if (ctx.source) {
    const inside = new SubSource(ctx.source, clean);
    if (await inside.exists(probe)) return inside;
  }
  // A Hugging Face id (the builders' defaults are ids): Node opens it through its hub cache; the browser reads it
  // from the hub over HTTP.
  const id = parseHubId(clean);
  if (id && !hasLocalSources() && (!ctx.open || ctx.open === resolveSource)) return hubUrlSource(id);
  if (ctx.source && !ctx.open) return resolveRelative(ctx.source, clean, open);
  return open(where);
}

/**
 * The encoder each builder uses when no `encoder` option is given: the seed's defaults (its modality classes'
 * `model_name_or_path`), as Hugging Face ids, so the seed's commands need no extra flag. They download into the
 * shared hub cache on first use (Node), or are read from the hub over HTTP (browser).
 */
export const DEFAULT_ENCODERS: Readonly<Record<string, string>> = {
  vision_clip: 'openai/clip-vit-large-patch14-336',
  vision_clip_pool: 'openai/clip-vit-large-patch14-336',
  // Not a seed builder: the same CLIP as vision_clip, per frame.
  video_clip: 'openai/clip-vit-large-patch14-336',
  video_xclip: 'microsoft/xclip-base-patch32',
  audio_whisper: 'openai/whisper-small',
  document_gte: 'thenlper/gte-large',
  document_gte_x16: 'thenlper/gte-large',
};

/** `options.encoder` when set (a non-empty string), else the builder's default; errors name the builder. */
export function encoderOption(o: Record<string, unknown>, builder: string): string {
  const e = o.encoder;
  if (e === undefined || e === null) {
    const d = DEFAULT_ENCODERS[builder];
    if (!d) throw new Error(`${builder}: needs option "encoder" (a folder, URL or Hugging Face id)`);
    return d;
  }
  if (typeof e !== 'string' || e === '') throw new Error(`${builder}: option "encoder" must be a folder, URL or Hugging Face id (got ${JSON.stringify(e)})`);
  return e;
}
