import type { Modality } from '../modality/modality.js';
import { RowError } from '../util/row-error.js';
import type { PlaceholderRun } from '../splice/layout.js';
import { IGNORE_INDEX } from '../constants.js';
import type { ChatMessage, ChatTokenizer } from './chat-tokenizer.js';
import { appendAll } from '../util/arrays.js';

/** A dataset row in the seed's schema: `{id, messages, <dataKey>: [...]}`. */
export interface ChatRow {
  id?: string | number;
  messages: ChatMessage[];
  [dataKey: string]: unknown;
}

export interface EncodedChat {
  id: string;
  /** Token ids; placeholder positions hold `-(modalityIndex + 1)`. */
  inputIds: number[];
  /** Same length; IGNORE_INDEX except on assistant replies and their end-of-turn token. */
  labels: number[];
  runs: PlaceholderRun[];
  /** Raw items per modality (in modality order), to preprocess and encode. */
  items: unknown[][];
}

export interface EncodeChatOptions {
  /** 'train' requires an assistant reply to learn from; 'generate' appends the generation prompt. */
  mode?: 'train' | 'generate';
}

const KNOWN_KEYS = new Set(['id', 'messages']);

function isEmpty(v: unknown): boolean {
  return v === undefined || v === null || (Array.isArray(v) && v.length === 0);
}

function countOccurrences(text: string, token: string): number {
  let n = 0;
  for (let i = text.indexOf(token); i !== -1; i = text.indexOf(token, i + token.length)) n++;
  return n;
}

/** Checks a row's shape and modality items, throwing `RowError`s that name the row. */
export function validateChatRow(row: ChatRow, modalities: Modality[], index?: number): string {
  const id = row && row.id !== undefined && row.id !== null ? String(row.id) : `#${index ?? '?'}`;
  if (!row || typeof row !== 'object') throw new RowError(id, 'row must be an object');
  if (!Array.isArray(row.messages) || row.messages.length === 0) throw new RowError(id, 'empty conversation: "messages" must be a non-empty array');
  row.messages.forEach((m, i) => {
    if (!m || typeof m.role !== 'string') throw new RowError(id, `messages[${i}].role must be a string`);
    if (typeof m.content !== 'string') throw new RowError(id, `messages[${i}].content must be a string`);
  });
  const byKey = new Map(modalities.map((m) => [m.dataKey, m]));
  for (const key of Object.keys(row)) {
    if (KNOWN_KEYS.has(key) || byKey.has(key) || isEmpty(row[key])) continue;
    throw new RowError(
      id,
      `unknown data key "${key}" (this model's modalities read: ${[...byKey.keys()].join(', ') || 'none'})`,
    );
  }
  for (const m of modalities) {
    const items = row[m.dataKey];
    if (!isEmpty(items) && !Array.isArray(items)) throw new RowError(id, `"${m.dataKey}" must be an array`);
    const n = Array.isArray(items) ? items.length : 0;
    let inUser = 0;
    row.messages.forEach((msg, i) => {
      const c = countOccurrences(msg.content, m.token);
      if (c > 0 && msg.role !== 'user') {
        throw new RowError(id, `${m.token} appears in messages[${i}] (role "${msg.role}"); modality tokens belong in user turns`);
      }
      inUser += c;
    });
    if (inUser !== n) {
      throw new RowError(id, `${inUser} ${m.token} token(s) in the text but ${n} item(s) in "${m.dataKey}"`);
    }
  }
  return id;
}

interface Segment {
  text: string;
  kind: 'prompt' | 'reply' | 'modality';
  modality?: number;
}

/**
 * Encodes a conversation for the LMM: renders it with the tokenizer's own chat template (Mistral, Llama-3,
 * ChatML, Zephyr, … — no hard-coded `[INST]` pattern), finds each assistant reply in the rendered text,
 * and tokenises piece by piece so that
 * - labels are the reply tokens plus the end-of-turn token right after each reply, IGNORE_INDEX elsewhere;
 * - each modality token becomes a run of `tokenWidth` placeholder positions (ignored by the loss).
 */
export function encodeChat(
  row: ChatRow,
  tokenizer: ChatTokenizer,
  modalities: Modality[],
  opts: EncodeChatOptions = {},
  index?: number,
): EncodedChat {
  const mode = opts.mode ?? 'train';
  const id = validateChatRow(row, modalities, index);
  const messages = row.messages.map((m) => ({ role: m.role, content: m.content }));
  if (mode === 'train' && !messages.some((m) => m.role === 'assistant')) {
    throw new RowError(id, 'no assistant reply to learn from');
  }
  let text: string;
  try {
    text = tokenizer.render(messages, mode === 'generate');
  } catch (e) {
    throw new RowError(id, `chat template failed: ${(e as Error).message}`);
  }

  // 1. Split the rendered text into prompt and reply segments.
  const coarse: Segment[] = [];
  let cursor = 0;
  if (mode === 'train') {
    for (let k = 0; k < messages.length; k++) {
      const m = messages[k];
      if (m.role !== 'assistant') continue;
      const reply = m.content.trim();
      if (!reply) throw new RowError(id, `messages[${k}] is an empty assistant reply`);
      // The reply is the last occurrence of its text in the conversation rendered up to and including it;
      // a plain forward search could match the same words in an earlier user turn.
      let upTo: number;
      try {
        upTo = tokenizer.render(messages.slice(0, k + 1), false).length;
      } catch {
        upTo = text.length;
      }
      const at = reply ? text.lastIndexOf(reply, Math.max(upTo - reply.length, 0)) : -1;
      if (at !== -1 && at < cursor) throw new RowError(id, 'could not locate an assistant reply in the rendered chat');
      if (at === -1) throw new RowError(id, 'the chat template changed an assistant reply beyond trimming; cannot locate it');
      let end = at + reply.length;
      const eot = tokenizer.endOfTurnTokens.find((t) => text.startsWith(t, end));
      if (eot) end += eot.length;
      coarse.push({ text: text.slice(cursor, at), kind: 'prompt' }, { text: text.slice(at, end), kind: 'reply' });
      cursor = end;
    }
  }
  coarse.push({ text: text.slice(cursor), kind: 'prompt' });

  // 2. Split prompt segments at modality tokens.
  const pattern = modalities.length
    ? new RegExp(`(${modalities.map((m) => m.token.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|')})`)
    : null;
  const segments: Segment[] = [];
  for (const seg of coarse) {
    if (seg.kind !== 'prompt' || !pattern) {
      segments.push(seg);
      continue;
    }
    for (const part of seg.text.split(pattern)) {
      const mi = modalities.findIndex((m) => m.token === part);
      segments.push(mi >= 0 ? { text: part, kind: 'modality', modality: mi } : { text: part, kind: 'prompt' });
    }
  }

  // 3. Tokenise.
  const inputIds: number[] = [];
  const labels: number[] = [];
  const runs: PlaceholderRun[] = [];
  const seen = modalities.map(() => 0);
  for (const seg of segments) {
    if (seg.kind === 'modality') {
      const m = modalities[seg.modality!];
      runs.push({ modality: seg.modality!, instance: seen[seg.modality!]++, start: inputIds.length, width: m.tokenWidth });
      for (let k = 0; k < m.tokenWidth; k++) {
        inputIds.push(-(seg.modality! + 1));
        labels.push(IGNORE_INDEX);
      }
      continue;
    }
    if (!seg.text) continue;
    const ids = tokenizer.encode(seg.text);
    appendAll(inputIds, ids);
    if (seg.kind === 'reply') appendAll(labels, ids);
    else for (let k = 0; k < ids.length; k++) labels.push(IGNORE_INDEX);
  }
  const items = modalities.map((m) => (Array.isArray(row[m.dataKey]) ? (row[m.dataKey] as unknown[]) : []));
  return { id, inputIds, labels, runs, items };
}
