/**
 * OpenAI chat messages → the seed's row. Content parts become text with the modality's token at the part's
 * position (`image_url` → `<image>` plus an `images` item, `input_audio` → the audio modality's token plus a
 * `data:` URL item), so the rest of the server sees exactly what `/generate` sees.
 */
import type { Modality } from '../../src/modality/modality.js';
import type { ChatRow } from '../../src/chat/encode-chat.js';
import { ApiError } from './errors.js';
import { modalityFamily } from './media-items.js';

/** One OpenAI content part (as the schema admits it). */
export interface ContentPart {
  type: 'text' | 'image_url' | 'input_audio';
  text?: string;
  image_url?: { url: string; detail?: string };
  input_audio?: { data: string; format: 'wav' | 'mp3' };
}

/** One OpenAI message (as the schema admits it). */
export interface OpenAIMessage {
  role: 'system' | 'developer' | 'user' | 'assistant';
  content?: string | ContentPart[] | null;
}

/** The row plus, per data key, the request field each item came from (for errors). */
export interface ConvertedChat {
  row: ChatRow;
  params: Map<string, string[]>;
}

/** Separates parts of one message: LLaVA puts the image on its own line before or after the question. */
const PART_SEPARATOR = '\n';

/** The model's modality for a part type, preferring the seed's data keys (`images`, `speech_audios`). */
function modalityFor(modalities: readonly Modality[], family: 'image' | 'audio'): Modality | undefined {
  const preferred = family === 'image' ? 'images' : 'speech_audios';
  return modalities.find((m) => m.dataKey === preferred) ?? modalities.find((m) => modalityFamily(m) === family);
}

/** Converts the messages; throws 400 ApiErrors naming the message or part at fault. */
export function messagesToRow(messages: OpenAIMessage[], modalities: readonly Modality[], id: string): ConvertedChat {
  const row: ChatRow = { id, messages: [] };
  const params = new Map<string, string[]>();
  const addItem = (m: Modality, item: string, param: string) => {
    ((row[m.dataKey] ??= []) as unknown[]).push(item);
    const list = params.get(m.dataKey) ?? [];
    list.push(param);
    params.set(m.dataKey, list);
  };
  // Text that already contains a modality token would shift every item after it: refuse it outright.
  const checkText = (text: string, param: string) => {
    for (const m of modalities) {
      if (text.includes(m.token)) {
        throw new ApiError(400, `${param} contains ${m.token}, which this server reserves for media (${m.dataKey}); send media as content parts`, param);
      }
    }
    return text;
  };
  messages.forEach((msg, i) => {
    const role = msg.role === 'developer' ? 'system' : msg.role;
    const where = `messages[${i}].content`;
    if (typeof msg.content === 'string' || msg.content == null) {
      row.messages.push({ role, content: checkText(msg.content ?? '', where) });
      return;
    }
    const pieces: string[] = [];
    msg.content.forEach((part, j) => {
      const p = `${where}[${j}]`;
      if (part.type === 'text') {
        if (typeof part.text !== 'string') throw new ApiError(400, `${p}.text is required for a text part`, `${p}.text`);
        pieces.push(checkText(part.text, `${p}.text`));
        return;
      }
      const family = part.type === 'image_url' ? 'image' : 'audio';
      const m = modalityFor(modalities, family);
      if (!m) throw new ApiError(400, `${p} is ${family === 'image' ? 'an image' : 'audio'}, but this model has no ${family} modality (it reads: ${modalities.map((x) => x.dataKey).join(', ') || 'text only'})`, p);
      if (role !== 'user') throw new ApiError(400, `${p}: media parts belong in user messages (this one is "${msg.role}")`, p);
      if (part.type === 'image_url') {
        if (!part.image_url) throw new ApiError(400, `${p}.image_url is required for an image_url part`, `${p}.image_url`);
        if (!part.image_url.url) throw new ApiError(400, `${p}.image_url.url must not be empty`, `${p}.image_url.url`);
        addItem(m, part.image_url.url, `${p}.image_url.url`);
      } else {
        if (!part.input_audio) throw new ApiError(400, `${p}.input_audio is required for an input_audio part`, `${p}.input_audio`);
        const { data, format } = part.input_audio;
        // As a data URL it goes through the same size cap and base64 check as any other item.
        addItem(m, `data:audio/${format === 'mp3' ? 'mpeg' : 'wav'};base64,${data}`, `${p}.input_audio.data`);
      }
      pieces.push(m.token);
    });
    row.messages.push({ role, content: pieces.join(PART_SEPARATOR) });
  });
  return { row, params };
}
