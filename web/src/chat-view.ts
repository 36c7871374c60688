/**
 * Renders the conversation: user turns with their attachments, and the assistant's answer as it streams in,
 * with its speed underneath.
 */
import type { Turn } from './conversation.js';
import type { AnswerStats } from './generation.js';
import { byId, el } from './ui.js';

/** A streaming assistant message. */
export interface AnswerView {
  append(text: string): void;
  finish(stats: AnswerStats): void;
  fail(message: string): void;
  /** Takes the message away (a send that failed before anything was generated). */
  remove(): void;
}

/** `1.2 s`, `340 ms`. */
export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return '–';
  return ms >= 1000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`;
}

/** One line of speed figures: `TTFT 340 ms · 12.5 tok/s · 32 tokens`. */
export function formatStats(s: AnswerStats): string {
  const rate = Number.isFinite(s.tokensPerSecond) ? `${s.tokensPerSecond.toFixed(1)} tok/s` : '– tok/s';
  return `TTFT ${formatMs(s.ttftMs)} · ${rate} · ${s.tokens} tokens`;
}

/** The message list. */
export class ChatView {
  private readonly list = byId('chat');

  /** Removes every message (new chat, new model). */
  clear(): void {
    this.list.replaceChildren();
  }

  /** Adds a user turn. Returns its element, so a failed send can take it back. */
  addUser(turn: Turn): HTMLElement {
    const msg = el('article', 'msg msg-user');
    if (turn.attachments.length) {
      const files = el('div', 'msg-files');
      for (const a of turn.attachments) {
        if (a.input.kind === 'image' && a.previewUrl) {
          const img = el('img', 'msg-image');
          img.src = a.previewUrl;
          img.alt = a.file.name;
          files.append(img);
        } else if (a.input.kind === 'audio' && a.previewUrl) {
          const audio = el('audio', 'msg-audio');
          audio.controls = true;
          audio.src = a.previewUrl;
          files.append(audio);
        } else {
          files.append(el('span', 'msg-file', a.file.name));
        }
      }
      msg.append(files);
    }
    if (turn.text) msg.append(el('div', 'msg-text', turn.text));
    this.list.append(msg);
    this.scroll();
    return msg;
  }

  /** Starts an assistant message that fills in as tokens arrive. */
  startAnswer(): AnswerView {
    const msg = el('article', 'msg msg-assistant');
    msg.dataset.state = 'waiting';
    const text = el('div', 'msg-text');
    const meta = el('div', 'msg-meta', 'thinking…');
    msg.append(text, meta);
    this.list.append(msg);
    this.scroll();
    return {
      append: (t) => {
        if (!t) return;
        msg.dataset.state = 'streaming';
        text.textContent += t;
        this.scroll();
      },
      finish: (s) => {
        msg.dataset.state = 'done';
        if (!text.textContent) text.append(el('em', 'muted', '(empty answer)'));
        const why = s.finishReason === 'length' ? ' · hit the token limit' : s.finishReason === 'cancelled' ? ' · stopped' : '';
        meta.textContent = formatStats(s) + why;
      },
      fail: (m) => {
        msg.dataset.state = 'error';
        msg.classList.add('msg-error');
        text.textContent = m;
        meta.textContent = 'not answered';
      },
      remove: () => msg.remove(),
    };
  }

  /** Shows a line from the page (model loaded, chat cleared). */
  addSystem(text: string): void {
    this.list.append(el('div', 'msg-system', text));
    this.scroll();
  }

  /** Keeps the newest text in view (the page's <main> is the scrolling box, so the loader scrolls away too). */
  private scroll(): void {
    const box = this.list.closest('main') ?? this.list;
    box.scrollTop = box.scrollHeight;
  }
}
