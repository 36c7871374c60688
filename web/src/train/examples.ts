/**
 * Training examples as the panel keeps them: pictures (File objects that never leave the tab) with either a
 * question and answer the user typed, or a dataset row's own messages. Turned into rows of the project's
 * dataset schema (`{id, messages, images}`) for the trainer.
 */
import type { ChatRow } from '../../../src/chat/encode-chat.js';

/** One training example. */
export interface TrainExample {
  /** Unique within the run: names the row in errors and keys the feature cache. */
  id: string;
  /** The row's pictures, in the order of its `<image>` tokens. */
  pictures: File[];
  /** A one-picture example typed in the panel (editable); null for a dataset row. */
  qa: { question: string; answer: string } | null;
  /** A dataset row's messages as the dataset had them (with its `<image>` tokens); empty for typed examples. */
  messages: { role: string; content: string }[];
  /** Where it came from, shown beside it: "file", "drop", "webcam", or the dataset folder's name. */
  origin: string;
}

/** Which modality the pictures feed. */
export interface ImageInput {
  token: string;
  dataKey: string;
}

/** The dataset row of an example. Throws when a typed example has no answer (the caller names the picture). */
export function exampleRow(e: TrainExample, input: ImageInput): ChatRow {
  if (e.qa) {
    const answer = e.qa.answer.trim();
    if (!answer) throw new Error('no answer yet: write what the model should say about this picture');
    return {
      id: e.id,
      messages: [
        // The page's chat puts the picture first too (LLaVA's convention, and the demo model's training data).
        { role: 'user', content: `${input.token}\n${e.qa.question.trim()}` },
        { role: 'assistant', content: answer },
      ],
      [input.dataKey]: e.pictures,
    };
  }
  return { id: e.id, messages: e.messages.map((m) => ({ ...m })), [input.dataKey]: e.pictures };
}

let counter = 0;

/** A fresh example id (unique in this tab; stored runs keep theirs). */
export function newExampleId(prefix = 'pic'): string {
  counter++;
  return `${prefix}-${Date.now().toString(36)}-${counter}`;
}

/** Whether a file is a picture the browser can decode (by type, or by name when the type is empty). */
export function isPicture(f: File): boolean {
  return f.type.startsWith('image/') || (!f.type && /\.(png|jpe?g|gif|webp|bmp|avif)$/i.test(f.name));
}
