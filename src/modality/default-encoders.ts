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
