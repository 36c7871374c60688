/**
 * The message composer: text, and attachments from the file picker, drag-and-drop, paste, the webcam and the
 * microphone, offered only for what the loaded model reads. Files no modality reads are refused with a
 * notice that names them and says what the model accepts.
 */
import type { Attachment } from './conversation.js';
import { ACCEPT, describeKinds, fileKind, type ModalityInput } from './modality-inputs.js';
import { canCapture, canRecord, startRecording, type Recording } from './media-capture.js';
import { takeWebcamPhoto } from './webcam-dialog.js';
import { byId, el, errorMessage, notice } from './ui.js';

/** What the composer hands over on send. */
export interface Draft {
  text: string;
  attachments: Attachment[];
}

/** The composer's controls and pending attachments. */
export class Composer {
  private inputs: ModalityInput[] = [];
  private pending: Attachment[] = [];
  private recording: Recording | null = null;
  private readonly prompt = byId<HTMLTextAreaElement>('prompt');

  constructor(onSend: () => void, onStop: () => void) {
    byId<HTMLFormElement>('composer').addEventListener('submit', (e) => {
      e.preventDefault();
      if (byId('send').dataset.mode === 'stop') onStop();
      else onSend();
    });
    // Enter sends, Shift+Enter adds a line (the chat-app convention).
    this.prompt.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        byId<HTMLFormElement>('composer').requestSubmit();
      }
    });
    this.prompt.addEventListener('input', () => this.autosize());
    const fileInput = byId<HTMLInputElement>('attach-input');
    fileInput.addEventListener('change', () => {
      this.addFiles([...(fileInput.files ?? [])]);
      fileInput.value = '';
    });
    document.addEventListener('paste', (e) => {
      const files = [...(e.clipboardData?.files ?? [])];
      if (files.length && this.inputs.length) {
        e.preventDefault();
        this.addFiles(files);
      }
    });
    this.wireDrop();
    byId('webcam-btn').addEventListener('click', () => void this.snapWebcam());
    byId('mic-btn').addEventListener('click', () => void this.toggleMic());
  }

  /** Shows the inputs a newly loaded model accepts. */
  configure(inputs: ModalityInput[]): void {
    this.inputs = inputs;
    this.clearAttachments();
    const kinds = inputs.map((i) => i.kind);
    const attach = byId<HTMLInputElement>('attach-input');
    attach.accept = [...new Set(kinds)].map((k) => ACCEPT[k]).join(',');
    byId('attach-label').hidden = inputs.length === 0;
    byId('webcam-btn').hidden = !kinds.includes('image') || !canCapture();
    byId('mic-btn').hidden = !kinds.includes('audio') || !canRecord();
    byId('accepts').textContent = `This model reads ${describeKinds(kinds)}${inputs.length ? ': attach, drop or paste files' : ''}.`;
    byId('composer').hidden = false;
  }

  /** Attaches files, each to the first modality of its kind; refused files get one notice. */
  addFiles(files: File[]): void {
    const refused: string[] = [];
    for (const file of files) {
      const kind = fileKind(file);
      const input = this.inputs.find((i) => i.kind === kind);
      if (!input) {
        refused.push(`"${file.name}" (${file.type || 'unknown type'})`);
        continue;
      }
      const previewUrl = kind === 'image' || kind === 'audio' ? URL.createObjectURL(file) : undefined;
      this.pending.push({ file, input, previewUrl });
    }
    if (refused.length) {
      notice('warn', `Not attached: ${refused.join(', ')}. This model reads ${describeKinds(this.inputs.map((i) => i.kind))}.`, 'attach');
    }
    this.renderAttachments();
  }

  /** Takes the draft for sending (attachments move to the conversation). */
  take(): Draft | null {
    const text = this.prompt.value.trim();
    if (!text && this.pending.length === 0) return null;
    const draft = { text, attachments: this.pending };
    this.pending = [];
    this.prompt.value = '';
    this.autosize();
    this.renderAttachments();
    return draft;
  }

  /** Puts a draft back after a failed send, so the user can fix it (remove the file the error names). */
  restore(draft: Draft): void {
    this.prompt.value = draft.text;
    this.pending = [...draft.attachments, ...this.pending];
    this.autosize();
    this.renderAttachments();
  }

  /** Replaces the draft with an example: its picture as the only attachment, its question as the text. */
  useExample(file: File, text: string): void {
    this.clearAttachments();
    this.addFiles([file]);
    this.prompt.value = text;
    this.autosize();
    this.prompt.focus();
  }

  /** Switches the send button to a stop button while an answer streams. */
  setBusy(busy: boolean): void {
    const send = byId<HTMLButtonElement>('send');
    send.dataset.mode = busy ? 'stop' : 'send';
    send.textContent = busy ? 'Stop' : 'Send';
  }

  private clearAttachments(): void {
    for (const a of this.pending) if (a.previewUrl) URL.revokeObjectURL(a.previewUrl);
    this.pending = [];
    this.renderAttachments();
  }

  private renderAttachments(): void {
    const box = byId('attachments');
    box.replaceChildren(
      ...this.pending.map((a, i) => {
        const chip = el('div', `chip chip-${a.input.kind}`);
        chip.title = `${a.file.name} → ${a.input.dataKey}`;
        if (a.input.kind === 'image' && a.previewUrl) {
          const img = el('img');
          img.src = a.previewUrl;
          img.alt = '';
          img.onerror = () => img.remove(); // not decodable: the send will say so, by name
          chip.append(img);
        }
        chip.append(el('span', 'chip-name', a.file.name));
        const x = el('button', 'chip-remove', '×');
        x.type = 'button';
        x.title = `Remove ${a.file.name}`;
        x.addEventListener('click', () => {
          const [gone] = this.pending.splice(i, 1);
          if (gone?.previewUrl) URL.revokeObjectURL(gone.previewUrl);
          this.renderAttachments();
        });
        chip.append(x);
        return chip;
      }),
    );
    box.hidden = this.pending.length === 0;
  }

  private autosize(): void {
    this.prompt.style.height = 'auto';
    this.prompt.style.height = `${Math.min(this.prompt.scrollHeight, 160)}px`;
  }

  private wireDrop(): void {
    const overlay = byId('drop-overlay');
    let depth = 0; // dragenter/leave fire for every child element crossed
    const hasFiles = (e: DragEvent) => [...(e.dataTransfer?.types ?? [])].includes('Files');
    document.addEventListener('dragenter', (e) => {
      if (!hasFiles(e) || !this.inputs.length) return;
      depth++;
      overlay.hidden = false;
    });
    document.addEventListener('dragleave', () => {
      if (--depth <= 0) overlay.hidden = true;
    });
    document.addEventListener('dragover', (e) => {
      if (hasFiles(e)) e.preventDefault(); // allows the drop
    });
    document.addEventListener('drop', (e) => {
      if (!hasFiles(e)) return;
      const claimed = e.defaultPrevented; // a drop zone in the page (the training panel) took these files
      e.preventDefault();
      depth = 0;
      overlay.hidden = true;
      if (this.inputs.length && !claimed) this.addFiles([...(e.dataTransfer?.files ?? [])]);
    });
  }

  private async snapWebcam(): Promise<void> {
    try {
      const photo = await takeWebcamPhoto();
      if (photo) this.addFiles([photo]);
    } catch (e) {
      notice('error', `Webcam: ${errorMessage(e)}`, 'capture');
    }
  }

  private async toggleMic(): Promise<void> {
    const btn = byId('mic-btn');
    try {
      if (this.recording) {
        const rec = this.recording;
        this.recording = null;
        btn.classList.remove('recording');
        this.addFiles([await rec.stop()]);
      } else {
        this.recording = await startRecording();
        btn.classList.add('recording');
      }
    } catch (e) {
      this.recording?.cancel();
      this.recording = null;
      btn.classList.remove('recording');
      notice('error', `Microphone: ${errorMessage(e)}`, 'capture');
    }
  }
}
