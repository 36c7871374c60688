/**
 * The "Load a model" panel: bundled demo model, a URL, a picked folder, or a copy in the browser cache; plus
 * the progress bar and the log of files read.
 */
import { byId, el, errorMessage, notice } from './ui.js';
import { directoryPicker, PickedFolderSource } from './file-source.js';
import { cacheAvailable, clearModelCache, listCachedModels, type CachedModel } from './model-cache.js';
import { formatBytes, type LoadProgress, type ModelChoice } from './model-loader.js';

/** What the panel asks the page to do. */
export interface LoaderPanelOptions {
  /** URL of the bundled demo model, relative to the page (`models/demo/` unless configured). */
  demoUrl: string;
  onChoose(choice: ModelChoice): void;
}

/** The panel's controls. */
export class LoaderPanel {
  private cached: CachedModel[] = [];
  private readonly log = byId<HTMLOListElement>('progress-log');
  private readonly bar = byId<HTMLProgressElement>('progress-bar');
  private readonly label = byId('progress-label');

  constructor(private readonly opts: LoaderPanelOptions) {
    byId('demo-url').textContent = opts.demoUrl;
    byId('load-demo').addEventListener('click', () => opts.onChoose({ kind: 'url', url: opts.demoUrl }));
    byId<HTMLFormElement>('url-form').addEventListener('submit', (e) => {
      e.preventDefault();
      const url = byId<HTMLInputElement>('model-url').value.trim();
      if (url) opts.onChoose({ kind: 'url', url });
    });
    const folderInput = byId<HTMLInputElement>('folder-input');
    folderInput.addEventListener('change', () => {
      if (!folderInput.files?.length) return;
      this.chooseFolder(() => PickedFolderSource.fromFileList(folderInput.files!));
      folderInput.value = '';
    });
    byId('pick-folder').addEventListener('click', () => {
      const pick = directoryPicker();
      // showDirectoryPicker lists files without reading them; the input reads nothing either, but is everywhere.
      if (pick) this.chooseFolder(async () => PickedFolderSource.fromDirectoryHandle(await pick()));
      else folderInput.click();
    });
    byId('load-cached').addEventListener('click', () => {
      const c = this.cached[byId<HTMLSelectElement>('cached-select').selectedIndex];
      if (!c) return;
      opts.onChoose(c.picked ? { kind: 'cached', key: c.key, location: c.manifest.location } : { kind: 'url', url: c.key });
    });
    byId('clear-cache').addEventListener('click', async () => {
      await clearModelCache();
      notice('info', 'Cleared the model cache: the next load reads every file again.', 'cache');
      await this.refreshCached();
    });
    if (!cacheAvailable()) {
      const box = byId<HTMLInputElement>('use-cache');
      box.checked = false;
      box.disabled = true;
      box.parentElement!.title = 'Cache Storage needs a secure context (https or localhost)';
    }
  }

  /** Whether the user wants the model cached. */
  get useCache(): boolean {
    return byId<HTMLInputElement>('use-cache').checked;
  }

  /** Pre-fills the URL field (from `?model=`). */
  setUrl(url: string): void {
    byId<HTMLInputElement>('model-url').value = url;
  }

  private async chooseFolder(open: () => Promise<PickedFolderSource> | PickedFolderSource): Promise<void> {
    try {
      this.opts.onChoose({ kind: 'folder', source: await open() });
    } catch (e) {
      if ((e as Error).name === 'AbortError') return; // the user closed the picker
      notice('error', `Could not open the folder: ${errorMessage(e)}`, 'load');
    }
  }

  /** Lists cached models in the select (hidden when there are none). */
  async refreshCached(): Promise<void> {
    this.cached = await listCachedModels().catch(() => []);
    const select = byId<HTMLSelectElement>('cached-select');
    select.replaceChildren(
      ...this.cached.map((c) => {
        const o = el('option', '', `${c.manifest.location} · ${formatBytes(c.manifest.bytes)}`);
        o.value = c.key;
        return o;
      }),
    );
    byId('cached-models').hidden = this.cached.length === 0;
  }

  /** Disables the load buttons while a load runs. */
  setBusy(busy: boolean): void {
    for (const id of ['load-demo', 'pick-folder', 'load-cached', 'url-submit']) byId<HTMLButtonElement>(id).disabled = busy;
  }

  /** Clears the log and shows the progress area. */
  startProgress(): void {
    byId('progress').hidden = false;
    this.log.replaceChildren();
    this.bar.removeAttribute('value'); // indeterminate until a download reports its size
    this.label.textContent = 'starting…';
  }

  /** Shows a progress event. */
  progress(p: LoadProgress): void {
    if (p.message) {
      this.log.append(el('li', '', p.message));
      this.log.scrollTop = this.log.scrollHeight;
      this.label.textContent = p.message;
    }
    if (p.file) {
      const { name, loaded, total } = p.file;
      this.label.textContent = `downloading ${name}: ${formatBytes(loaded)}${total ? ` of ${formatBytes(total)}` : ''}`;
      if (total) {
        this.bar.max = total;
        this.bar.value = loaded;
      }
    }
  }

  /** Ends the progress display with a summary line. */
  finishProgress(summary: string): void {
    this.bar.max = 1;
    this.bar.value = 1;
    this.label.textContent = summary;
  }
}
