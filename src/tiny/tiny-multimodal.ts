import type { ModalityConfig } from '../modality/modality.js';
import { makeTinyBert } from './tiny-bert.js';
import { makeTinyClipVision } from './tiny-clip.js';
import { makeTinyLMMFiles, type TinyLMOptions } from './tiny-lmm.js';
import { makeTinyWhisperEncoder } from './tiny-whisper.js';

/** Modalities `make-tiny --lmm` can include, named like the seed's builders. */
export const TINY_MODALITIES = ['vector', 'vision_clip', 'vision_clip_pool', 'video_clip', 'audio_whisper', 'document_gte'] as const;
export type TinyModality = (typeof TINY_MODALITIES)[number];

export interface TinyMultimodalOptions extends TinyLMOptions {
  modalities: TinyModality[];
  /** Image size of the tiny CLIP (patch 8 → (size/8)² patch tokens). Default 32. */
  imageSize?: number;
  /** Length of `vector` items. Default 8. */
  vectorDim?: number;
  /** Tiny CLIP shape: hidden size (32), layers (2), patch size (8). */
  visionHiddenSize?: number;
  visionLayers?: number;
  patchSize?: number;
  /** Depth of every projector: 1 = linear, 2 = mlp2x_gelu (default). */
  projectorLayers?: number;
}

function prefixed(prefix: string, files: Map<string, Uint8Array>): [string, Uint8Array][] {
  return [...files].map(([k, v]) => [`${prefix}/${k}`, v]);
}

/**
 * A complete tiny multimodal checkpoint with real-format encoders in subfolders (`vision_encoder/`,
 * `audio_encoder/`, `document_encoder/`), so every modality's whole path — preprocessing, encoder, projector,
 * splice, LM — runs in tests and examples without downloads.
 */
export async function makeTinyMultimodalFiles(o: TinyMultimodalOptions): Promise<Map<string, Uint8Array | string>> {
  const seed = o.seed ?? 0;
  const projectorLayers = o.projectorLayers ?? 2;
  if (!Number.isInteger(projectorLayers) || projectorLayers < 1) throw new Error(`projector layers (--projector_layers) must be a positive integer (got ${o.projectorLayers})`);
  const extra = new Map<string, Uint8Array | string>();
  const configs: ModalityConfig[] = [];
  const vision = o.modalities.filter((m) => m === 'vision_clip' || m === 'vision_clip_pool');
  if (vision.length > 1) throw new Error('choose one of vision_clip and vision_clip_pool (both use the name "vision_clip")');
  if (o.modalities.some((m) => m === 'vision_clip' || m === 'vision_clip_pool' || m === 'video_clip')) {
    for (const e of prefixed('vision_encoder', makeTinyClipVision({ imageSize: o.imageSize ?? 32, patchSize: o.patchSize, hiddenSize: o.visionHiddenSize, layers: o.visionLayers, intermediate: o.visionHiddenSize ? o.visionHiddenSize * 2 : undefined, heads: o.visionHiddenSize ? Math.max(2, o.visionHiddenSize / 32) : undefined, seed: seed + 11 }))) extra.set(...e);
  }
  for (const m of o.modalities) {
    switch (m) {
      case 'vector':
        configs.push({ kind: 'vector', name: 'vector', token: '<vector>', dataKey: 'vectors', dim: o.vectorDim ?? 8, numTokens: 2, projectorLayers });
        break;
      case 'vision_clip':
        configs.push({ kind: 'vision_clip', name: 'vision_clip', token: '<image>', dataKey: 'images', encoder: 'vision_encoder', projectorLayers });
        break;
      case 'vision_clip_pool':
        configs.push({ kind: 'vision_clip_pool', name: 'vision_clip', token: '<image>', dataKey: 'images', encoder: 'vision_encoder', projectorLayers, numTokens: 10 });
        break;
      case 'video_clip':
        configs.push({ kind: 'video_clip', name: 'video_clip', token: '<video>', dataKey: 'videos', encoder: 'vision_encoder', numFrames: 4, numTokens: 4, projectorLayers });
        break;
      case 'audio_whisper':
        // A 1 s window (50 encoder positions) keeps the tiny Whisper fast; real Whisper uses 30 s.
        for (const e of prefixed('audio_encoder', makeTinyWhisperEncoder({ maxSourcePositions: 50, seed: seed + 12 }))) extra.set(...e);
        configs.push({ kind: 'audio_whisper', name: 'audio_whisper', token: '<speech>', dataKey: 'speech_audios', encoder: 'audio_encoder', numTokens: 10, projectorLayers, pooling: 'decoder' });
        break;
      case 'document_gte':
        for (const e of prefixed('document_encoder', makeTinyBert({ seed: seed + 13 }))) extra.set(...e);
        configs.push({ kind: 'document_gte', name: 'document_gte', token: '<document>', dataKey: 'documents', encoder: 'document_encoder', numTokens: 4, projectorLayers });
        break;
      default:
        throw new Error(`unknown tiny modality "${m as string}" (choose from ${TINY_MODALITIES.join(', ')})`);
    }
  }
  return makeTinyLMMFiles({ ...o, modalities: configs, extraFiles: extra, modalityBuilder: o.modalities.join('+') });
}
