/**
 * A `ModelSource` over a folder the user picked in the browser: through the File System Access API
 * (`showDirectoryPicker`, Chromium) or an `<input type="file" webkitdirectory>` (every browser).
 *
 * Only the listing is made up front; a file's bytes are read when the loader asks for it, so picking a folder
 * that also holds large unrelated files (an `.onnx` export, the PyTorch `.bin` next to `.safetensors`) costs
 * nothing for them.
 */
import { ModelFileError, joinLocation, type ModelSource } from '../../src/io/source.js';

/** The parts of `FileSystemDirectoryHandle` used here (not in TypeScript's DOM lib everywhere). */
export interface DirectoryHandleLike {
  readonly kind: 'directory';
  readonly name: string;
  values(): AsyncIterable<DirectoryHandleLike | FileHandleLike>;
}

/** The parts of `FileSystemFileHandle` used here. */
export interface FileHandleLike {
  readonly kind: 'file';
  readonly name: string;
  getFile(): Promise<File>;
}

/** What a picked entry is: a file we have, or a handle we open on first read. */
type Entry = File | FileHandleLike;

/** Hidden folders (`.git`, `.cache` of a Hugging Face clone) can hold gigabytes of objects the loader never reads. */
const isHidden = (name: string) => name.startsWith('.');

/** Files of a picked folder, by path relative to it ('/'-separated). */
export class PickedFolderSource implements ModelSource {
  readonly location: string;

  constructor(
    private readonly entries: Map<string, Entry>,
    /** The folder's name, shown in messages and used as its cache key. */
    readonly folderName: string,
  ) {
    this.location = `picked folder "${folderName}"`;
  }

  /**
   * From `<input webkitdirectory>`: each File's `webkitRelativePath` starts with the picked folder's name,
   * which is stripped so `config.json` is at the root.
   *
   * @throws ModelFileError when the list is empty (the user picked an empty folder, or cancelled).
   */
  static fromFileList(list: FileList | readonly File[]): PickedFolderSource {
    const files = Array.from(list);
    if (files.length === 0) throw new ModelFileError('the picked folder is empty');
    const entries = new Map<string, Entry>();
    let folder = '';
    for (const f of files) {
      const parts = (f.webkitRelativePath || f.name).split('/');
      if (parts.length > 1) folder ||= parts[0];
      const rel = parts.length > 1 ? parts.slice(1) : parts;
      if (rel.some(isHidden)) continue;
      entries.set(rel.join('/'), f);
    }
    return new PickedFolderSource(entries, folder || 'files');
  }

  /** From `showDirectoryPicker()`: walks the folder (skipping hidden entries) and lists its files. */
  static async fromDirectoryHandle(dir: DirectoryHandleLike): Promise<PickedFolderSource> {
    const entries = new Map<string, Entry>();
    const walk = async (d: DirectoryHandleLike, prefix: string): Promise<void> => {
      for await (const h of d.values()) {
        if (isHidden(h.name)) continue;
        if (h.kind === 'directory') await walk(h, `${prefix}${h.name}/`);
        else entries.set(prefix + h.name, h);
      }
    };
    await walk(dir, '');
    return new PickedFolderSource(entries, dir.name);
  }

  /** Paths of every file found, sorted. */
  names(): string[] {
    return [...this.entries.keys()].sort();
  }

  /** The picked `File` itself (read lazily, in slices: large weight files are streamed, never read whole). */
  async file(name: string): Promise<File> {
    const entry = this.entries.get(name);
    if (!entry) throw new ModelFileError(`missing file ${joinLocation(this.location, name)}${this.hint(name)}`);
    return entry instanceof Blob ? entry : entry.getFile();
  }

  async readFile(name: string): Promise<Uint8Array> {
    const file = await this.file(name);
    try {
      return new Uint8Array(await file.arrayBuffer());
    } catch (e) {
      throw new ModelFileError(`could not read ${joinLocation(this.location, name)}: ${(e as Error).message}`);
    }
  }

  async exists(name: string): Promise<boolean> {
    return this.entries.has(name);
  }

  /** When config.json is missing at the root but present one level down, the user picked the parent folder. */
  private hint(name: string): string {
    if (name !== 'config.json') return '';
    const nested = this.names().filter((n) => n.endsWith('/config.json') && n.split('/').length === 2);
    return nested.length
      ? ` (pick the model folder itself; this folder holds ${nested.map((n) => n.split('/')[0] + '/').join(', ')})`
      : ' (is this a model folder? it needs config.json, model.safetensors and tokenizer.json)';
  }
}

/** The File System Access API's folder picker where the browser has it (Chromium on desktop), else null. */
export function directoryPicker(): (() => Promise<DirectoryHandleLike>) | null {
  const w = globalThis as unknown as { showDirectoryPicker?: (o?: object) => Promise<DirectoryHandleLike> };
  return typeof w.showDirectoryPicker === 'function' ? () => w.showDirectoryPicker!({ mode: 'read' }) : null;
}
