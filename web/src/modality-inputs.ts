/**
 * Which kinds of attachment a loaded model accepts, and which of its modalities each file goes to. The page
 * shows only the inputs these allow (no microphone button for a vision-only model) and refuses a dropped file
 * no modality reads, naming the file and what the model does read.
 */
import type { Modality } from '../../src/modality/modality.js';

/** What the page can attach. `vector` modalities (game state, embeddings) have no file form here. */
export type InputKind = 'image' | 'audio' | 'document' | 'video';

/** A modality the page can feed, with how. */
export interface ModalityInput {
  kind: InputKind;
  /** Index in `lmm.modalities`. */
  index: number;
  name: string;
  token: string;
  dataKey: string;
}

/** `accept` attribute of a file input per kind. */
export const ACCEPT: Record<InputKind, string> = {
  image: 'image/*',
  audio: 'audio/*,.wav,.mp3,.ogg,.flac,.m4a,.webm',
  document: 'text/*,.txt,.md,.markdown,.rst,.csv,.tsv,.json,.jsonl,.html,.htm,.xml,.log,.tex',
  video: 'video/*',
};

const TEXT_NAME = /\.(txt|md|markdown|rst|text|csv|tsv|json|jsonl|html?|xml|log|tex)$/i;

/** The kind a modality takes, from its registry kind (and for ONNX encoders its preprocessing), else its data key. */
export function inputKindOf(m: Modality): InputKind | null {
  const cfg = m.toConfig();
  const kind = cfg.kind;
  const pre = typeof cfg.preprocess === 'string' ? cfg.preprocess : '';
  if (kind === 'vision_clip' || kind === 'vision_clip_pool' || pre === 'image_clip') return 'image';
  if (kind === 'video_clip') return 'video';
  if (kind === 'audio_whisper' || pre.startsWith('audio_')) return 'audio';
  if (kind === 'document_gte' || pre === 'text') return 'document';
  if (kind === 'vector' || pre === 'vector' || pre === 'raw') return null;
  // A modality kind registered by someone else: guess from where a dataset row keeps its items.
  if (/image/i.test(m.dataKey)) return 'image';
  if (/video/i.test(m.dataKey)) return 'video';
  if (/audio|speech|sound/i.test(m.dataKey)) return 'audio';
  if (/doc|text/i.test(m.dataKey)) return 'document';
  return null;
}

/** The modalities of a model the page can feed (first modality of each kind wins a dropped file). */
export function modalityInputs(modalities: readonly Modality[]): { inputs: ModalityInput[]; unsupported: string[] } {
  const inputs: ModalityInput[] = [];
  const unsupported: string[] = [];
  modalities.forEach((m, index) => {
    const kind = inputKindOf(m);
    if (kind) inputs.push({ kind, index, name: m.name, token: m.token, dataKey: m.dataKey });
    else unsupported.push(`${m.name} (${m.dataKey})`);
  });
  return { inputs, unsupported };
}

/** The kind of attachment a file looks like, from its MIME type, else its extension. */
export function fileKind(file: File): InputKind | null {
  const t = file.type;
  if (t.startsWith('image/')) return 'image';
  if (t.startsWith('audio/')) return 'audio';
  if (t.startsWith('video/')) return 'video';
  if (t.startsWith('text/') || t === 'application/json' || TEXT_NAME.test(file.name)) return 'document';
  if (/\.(png|jpe?g|gif|webp|bmp|avif)$/i.test(file.name)) return 'image';
  if (/\.(wav|mp3|ogg|oga|flac|m4a|aac|opus)$/i.test(file.name)) return 'audio';
  if (/\.(mp4|webm|mov|mkv)$/i.test(file.name)) return 'video';
  return null;
}

/** Human words for a list of kinds: "images and audio". */
export function describeKinds(kinds: readonly InputKind[]): string {
  const words = [...new Set(kinds)].map((k) => ({ image: 'images', audio: 'audio', document: 'text documents', video: 'videos' })[k]);
  if (words.length === 0) return 'text only';
  return words.length === 1 ? words[0] : `${words.slice(0, -1).join(', ')} and ${words[words.length - 1]}`;
}
