/**
 * Registers the ONNX-backed builders and kinds:
 *
 * - `onnx` (builder and kind): any exported encoder, configured entirely by options (see `onnx-encoder.ts`).
 * - `audio_clap` (builder): the seed's `CLAPAudioModality(num_tokens_output=5)` — name `audio_clap`, token
 *   `<sound>`, data key `sounds`, 512-d CLAP audio embeddings, 2-layer vector projector of 5 tokens — on the
 *   CLAP audio tower exported to ONNX. Options: `encoder` (folder, default the checkpoint; a transformers.js
 *   CLAP export such as `Xenova/clap-htsat-unfused` works as is: `onnx/audio_model.onnx`, input
 *   `input_features`, output `audio_embeds`, `preprocessor_config.json`), and any `onnx` field to override.
 *   Saved as kind `onnx`, so the checkpoint reloads without this preset.
 * - `imagebind` (builder and kind): the seed's ImageBind modality over per-input-type ONNX towers (see
 *   `imagebind.ts`).
 */
import { imagebindFrom } from './imagebind.js';
import { onnxModalityFrom } from './onnx-encoder.js';
import { registerModalityBuilder, registerModalityKind } from '../registry.js';

/** The seed's audio_clap shape (audio_clap.py + MODALITY_BUILDERS), as ONNX modality defaults. */
export const AUDIO_CLAP_DEFAULTS = {
  name: 'audio_clap',
  token: '<sound>',
  dataKey: 'sounds',
  model: 'onnx/audio_model.onnx',
  input: 'input_features',
  output: 'audio_embeds',
  preprocess: 'audio_clap',
  pooling: 'none',
  numTokens: 5,
  projectorLayers: 2,
  featureDim: 512,
} as const;

registerModalityKind('onnx', async (config, ctx) => onnxModalityFrom(config, ctx));
registerModalityBuilder('onnx', async (ctx) => [await onnxModalityFrom(ctx.options ?? {}, ctx)]);
registerModalityBuilder('audio_clap', async (ctx) => [await onnxModalityFrom(ctx.options ?? {}, ctx, { ...AUDIO_CLAP_DEFAULTS })]);
registerModalityKind('imagebind', async (config, ctx) => imagebindFrom(config, ctx));
registerModalityBuilder('imagebind', async (ctx) => [await imagebindFrom(ctx.options ?? {}, ctx)]);
