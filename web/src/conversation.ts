/**
 * The conversation as the model sees it: turns with their attachments, turned into one chat row in the
 * library's schema (`{messages, images: […], speech_audios: […], …}`). Each attachment puts its modality token
 * (`<image>`) at the start of its user turn, the LLaVA convention the demo models are trained with.
 */
import type { ChatRow } from '../../src/chat/encode-chat.js';
import { sniffAudioFormat } from '../../src/media/audio-decode.js';
import { webAudioDecoder } from '../../src/media/audio-input-browser.js';
import { mixToMono } from '../../src/media/audio-resample.js';
import type { ModalityInput } from './modality-inputs.js';

/** A file attached to a user turn, bound to the modality that will read it. */
export interface Attachment {
  file: File;
  input: ModalityInput;
  /** Object URL for a thumbnail or player (revoked when the attachment is dropped). */
  previewUrl?: string;
  /** The library item, made once (decoding audio is not free). */
  item?: unknown;
}

/** One turn of the chat. */
export interface Turn {
  role: 'user' | 'assistant';
  text: string;
  attachments: Attachment[];
}

/** Where an item sits in the row, for error messages: `images[1]` is "cat.png". */
export interface ItemRef {
  ref: string;
  name: string;
}

/** Row id the library's errors start with (`row "chat": images[0]: …`). */
export const ROW_ID = 'chat';

/** A `documents` item: the file's text, refused when it is binary or not UTF-8. */
async function documentItem(file: File, label: string): Promise<{ text: string }> {
  const bytes = new Uint8Array(await file.arrayBuffer());
  if (bytes.subarray(0, 8192).includes(0)) {
    throw new Error(`${label} is not a text file (it contains binary data); documents must be plain text such as .txt or .md`);
  }
  try {
    return { text: new TextDecoder('utf-8', { fatal: true }).decode(bytes).replace(/^\uFEFF/, '') };
  } catch {
    throw new Error(`${label} is not UTF-8 text; save it as UTF-8 and attach it again`);
  }
}

/**
 * An audio item. WAV and MP3 go to the library as bytes (it decodes them everywhere); other formats (Ogg, WebM,
 * M4A, FLAC) are decoded here by the browser, which the library's modalities cannot ask for on their own.
 */
async function audioItem(file: File, label: string): Promise<unknown> {
  const bytes = new Uint8Array(await file.arrayBuffer());
  const format = sniffAudioFormat(bytes);
  if (format === 'wav' || format === 'mp3') return bytes;
  const decoded = await webAudioDecoder(16000)(bytes, label);
  return { array: mixToMono(decoded.channels), sampling_rate: decoded.sampleRate };
}

/** The library item for an attachment (cached on it). `label` names it in errors. */
export async function attachmentItem(a: Attachment, label: string): Promise<unknown> {
  if (a.item !== undefined) return a.item;
  switch (a.input.kind) {
    case 'image':
    case 'video':
      a.item = a.file; // the library decodes Blobs itself (RawImage.fromBlob / the video element)
      break;
    case 'audio':
      a.item = await audioItem(a.file, label);
      break;
    case 'document':
      a.item = await documentItem(a.file, label);
      break;
  }
  return a.item;
}

/** Builds the chat row for the whole conversation, and a map from item references to file names. */
export async function buildRow(turns: readonly Turn[]): Promise<{ row: ChatRow; refs: ItemRef[] }> {
  const row: ChatRow = { id: ROW_ID, messages: [] };
  const refs: ItemRef[] = [];
  for (const t of turns) {
    const tokens: string[] = [];
    for (const a of t.attachments) {
      const key = a.input.dataKey;
      const list = ((row[key] as unknown[] | undefined) ??= []);
      const ref = `${key}[${list.length}]`;
      refs.push({ ref, name: a.file.name });
      list.push(await attachmentItem(a, `${ref} ("${a.file.name}")`));
      tokens.push(a.input.token);
    }
    const content = tokens.length ? `${tokens.join('\n')}\n${t.text}` : t.text;
    row.messages.push({ role: t.role, content });
  }
  return { row, refs };
}

/**
 * Makes a library error about an item read as the user sees it: the row prefix (`row "chat": `, noise in a
 * single chat) goes, and each item reference gets its file name (`images[1]: could not decode…` →
 * `images[1] ("notes.png"): could not decode…`), so the user knows which attachment to remove.
 */
export function explainItemError(message: string, refs: readonly ItemRef[]): string {
  let out = message.replace(`row ${JSON.stringify(ROW_ID)}: `, '');
  for (const r of refs) {
    if (out.includes(r.ref) && !out.includes(r.name)) out = out.replace(r.ref, `${r.ref} ("${r.name}")`);
  }
  return out;
}
