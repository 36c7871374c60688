/**
 * Which request items a worker thread can preprocess, and how: a recipe is the part of a modality's
 * configuration its `preprocess` needs (the CLIP image processor's `preprocessor_config.json` and pad-to-square
 * flag, Whisper's feature-extractor settings, the frames a video is sampled to), plain data that crosses to a
 * worker. The worker rebuilds the same processor from it, so its output is the modality's own, value for value.
 *
 * Modalities without a recipe (documents, vectors, ONNX encoders, user modalities) keep preprocessing where
 * the model runs; their items are bounded by the budgets (budgets.ts) instead.
 */
import type { Modality } from '../../src/modality/modality.js';
import { VisionClipModality } from '../../src/modality/vision-clip/vision-clip.js';
import { VideoClipModality } from '../../src/modality/video/video-clip.js';
import { WhisperAudioModality } from '../../src/modality/audio-whisper/audio-whisper.js';

/** A worker-side preprocessing recipe (see the file comment). */
export type MediaRecipe =
  | { kind: 'clip-image'; processor: Record<string, unknown>; padToSquare: boolean }
  | { kind: 'clip-video'; processor: Record<string, unknown>; numFrames: number }
  | { kind: 'whisper-audio'; features: Record<string, unknown> };

/** The recipe for a modality's items, or null when they are preprocessed on the model's thread. */
export function recipeFor(m: Modality): MediaRecipe | null {
  if (m instanceof VisionClipModality) return { kind: 'clip-image', processor: m.processor.json, padToSquare: m.options.padToSquare ?? false };
  // A modality given its own decoder (an option that cannot cross threads) keeps it.
  if (m instanceof VideoClipModality && !m.options.decoder) return { kind: 'clip-video', processor: m.processor.json, numFrames: m.numFrames };
  if (m instanceof WhisperAudioModality && !m.options.decode) return { kind: 'whisper-audio', features: m.features.config };
  return null;
}
