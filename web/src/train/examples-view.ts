/**
 * The panel's list of training examples: pictures added from files, drag and drop, the webcam or a dataset
 * folder, each with a question and the answer the model should give (typed here), or a dataset row's own
 * messages. Pictures are shown from blob: URLs; nothing is sent anywhere.
 */
import { byId, el, errorMessage, notice } from '../ui.js';
import { takeWebcamPhoto } from '../webcam-dialog.js';
import { canCapture } from '../media-capture.js';
import { isPicture, newExampleId, type ImageInput, type TrainExample } from './examples.js';
import { readDatasetFolder } from './dataset-folder.js';

export class ExamplesView {
  private items: TrainExample[] = [];
  private urls = new Map<File, string>();
  private input: ImageInput | null = null;
  private locked = false;
  private readonly list = byId<HTMLOListElement>('train-list');

  constructor(private readonly onChange: () => void) {
    const files = byId<HTMLInputElement>('train-files');
    files.addEventListener('change', () => {
      this.addPictures([...(files.files ?? [])], 'file');
      files.value = '';
    });
    const folder = byId<HTMLInputElement>('train-folder');
    folder.addEventListener('change', () => {
      void this.addFolder([...(folder.files ?? [])]);
      folder.value = '';
    });
    byId('train-webcam').addEventListener('click', () => void this.snap());
    this.wireDrop(byId('train-drop'));
  }

  /** The model's picture input (null: the model reads no pictures). */
  configure(input: ImageInput | null): void {
    this.input = input;
    byId('train-webcam').hidden = !canCapture();
  }

  get examples(): readonly TrainExample[] {
    return this.items;
  }

  /** Replaces the list (a stored run after a reload). */
  set(examples: TrainExample[]): void {
    this.items = examples;
    this.render();
  }

  /** While training runs the list is read-only (the trainer holds these rows). */
  lock(locked: boolean): void {
    this.locked = locked;
    for (const c of this.list.querySelectorAll<HTMLInputElement | HTMLButtonElement>('input, button')) c.disabled = locked;
  }

  addPictures(files: File[], origin: string): void {
    if (this.locked) return;
    const pictures = files.filter(isPicture);
    const refused = files.filter((f) => !isPicture(f)).map((f) => `"${f.name}"`);
    if (refused.length) notice('warn', `Not added (not pictures): ${refused.join(', ')}.`, 'train-add');
    const question = byId<HTMLInputElement>('train-question').value.trim() || 'Describe the picture.';
    for (const f of pictures) this.items.push({ id: newExampleId(), pictures: [f], qa: { question, answer: '' }, messages: [], origin });
    if (pictures.length) this.render();
    const firstEmpty = this.list.querySelector<HTMLInputElement>('.train-answer:placeholder-shown');
    firstEmpty?.focus();
  }

  private async addFolder(files: File[]): Promise<void> {
    if (!this.input || this.locked || !files.length) return;
    try {
      const ds = await readDatasetFolder(files, this.input);
      this.items.push(...ds.examples);
      this.render();
      const skipped = ds.skipped.length ? ` Skipped ${ds.skipped.length}: ${ds.skipped.slice(0, 5).map((s) => `row "${s.id}": ${s.reason}`).join('; ')}${ds.skipped.length > 5 ? '; …' : ''}` : '';
      notice(ds.skipped.length ? 'warn' : 'info', `Added ${ds.examples.length} rows from ${ds.name}/${ds.files.join(', ')}.${skipped}`, 'train-add');
    } catch (e) {
      notice('error', `Could not read the dataset folder: ${errorMessage(e)}`, 'train-add');
    }
  }

  private async snap(): Promise<void> {
    try {
      const photo = await takeWebcamPhoto();
      if (photo) this.addPictures([photo], 'webcam');
    } catch (e) {
      notice('error', `Webcam: ${errorMessage(e)}`, 'train-add');
    }
  }

  private wireDrop(zone: HTMLElement): void {
    const hasFiles = (e: DragEvent) => [...(e.dataTransfer?.types ?? [])].includes('Files');
    zone.addEventListener('dragover', (e) => {
      if (!hasFiles(e)) return;
      e.preventDefault();
      zone.classList.add('over');
    });
    zone.addEventListener('dragleave', () => zone.classList.remove('over'));
    zone.addEventListener('drop', (e) => {
      if (!hasFiles(e)) return;
      // Claims the files: the chat's page-wide drop handler sees defaultPrevented and leaves them alone.
      e.preventDefault();
      zone.classList.remove('over');
      this.addPictures([...(e.dataTransfer?.files ?? [])], 'drop');
    });
  }

  private urlOf(f: File): string {
    let u = this.urls.get(f);
    if (!u) this.urls.set(f, (u = URL.createObjectURL(f)));
    return u;
  }

  private render(): void {
    const live = new Set(this.items.flatMap((e) => e.pictures));
    for (const [f, u] of this.urls) {
      if (live.has(f)) continue;
      URL.revokeObjectURL(u);
      this.urls.delete(f);
    }
    this.list.replaceChildren(...this.items.map((e, i) => this.row(e, i)));
    byId('train-count').textContent = this.items.length ? `${this.items.length} example${this.items.length === 1 ? '' : 's'}` : '';
    this.lock(this.locked);
    this.onChange();
  }

  private row(e: TrainExample, i: number): HTMLLIElement {
    const li = el('li', 'train-item');
    li.dataset.id = e.id;
    const pics = el('div', 'train-pics');
    for (const f of e.pictures) {
      const img = el('img');
      img.src = this.urlOf(f);
      img.alt = f.name;
      img.title = `${f.name} (${e.origin})`;
      pics.append(img);
    }
    li.append(pics);
    const body = el('div', 'train-qa');
    if (e.qa) {
      const qa = e.qa;
      const q = el('input', 'train-question-input');
      q.value = qa.question;
      q.setAttribute('aria-label', `Question about ${e.pictures[0]?.name}`);
      q.addEventListener('input', () => (qa.question = q.value));
      const a = el('input', 'train-answer');
      a.value = qa.answer;
      a.placeholder = 'The answer it should give';
      a.setAttribute('aria-label', `Answer for ${e.pictures[0]?.name}`);
      a.addEventListener('input', () => {
        qa.answer = a.value;
        this.onChange();
      });
      body.append(q, a);
    } else {
      const last = e.messages[e.messages.length - 1];
      body.append(el('span', 'muted', `row "${e.id}" · ${e.messages.length} messages · ${e.origin}`), el('span', 'train-dataset-answer', last?.content ?? ''));
    }
    li.append(body);
    const x = el('button', 'chip-remove', '×');
    x.type = 'button';
    x.title = `Remove ${e.pictures[0]?.name ?? e.id}`;
    x.addEventListener('click', () => {
      this.items.splice(i, 1);
      this.render();
    });
    li.append(x);
    return li;
  }
}
