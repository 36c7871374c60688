/**
 * A training run kept in the browser's origin-private file system, one per model: its pictures, the typed
 * answers and settings (`run.json`), and checkpoints (`checkpoint-<step>/`, the files `multi-token train`
 * writes in its checkpoints plus the optimizer state). A reload finds it again and resumes from the newest
 * complete checkpoint. Nothing here is ever uploaded.
 *
 * Atomicity: each file is committed whole by the browser when its stream closes, and a checkpoint counts only
 * once its `trainer_state.json` exists, which is written last (the Node trainer's rule too); older
 * checkpoints are removed only after a newer one is complete.
 */
import { ALL_LINEAR_TARGETS, type LoraConfig } from '../../../src/lora/lora.js';
import type { TrainExample } from './examples.js';
import { OpfsSource, fileAt, folderAt, listFolder, opfsRoot, removeEntry, writeFileAt } from './opfs.js';

/** The panel's training settings. */
export interface TrainSettings {
  mode: 'projector' | 'lora';
  /** LoRA rank (alpha is twice the rank). */
  rank: number;
  /** Total optimizer steps of the run (raising it and continuing trains further). */
  steps: number;
  learningRate: number;
  batchSize: number;
}

/** LoRA on every linear layer, alpha = 2 × rank, no dropout (so a resumed run repeats exactly). */
export function loraConfigOf(s: TrainSettings): LoraConfig {
  return { r: s.rank, loraAlpha: 2 * s.rank, loraDropout: 0, targetModules: ALL_LINEAR_TARGETS };
}

interface StoredExample {
  id: string;
  qa: TrainExample['qa'];
  messages: TrainExample['messages'];
  origin: string;
  pictures: { path: string; name: string; type: string }[];
}

/** run.json */
interface RunFile {
  version: 1;
  model: string;
  settings: TrainSettings;
  examples: StoredExample[];
}

/** A complete checkpoint found in the store. */
export interface StoredCheckpoint {
  step: number;
  source: OpfsSource;
}

/** How many complete checkpoints to keep (the newest, and one before it in case the newest is bad). */
const KEEP = 2;

/** FNV-1a of the model location: a folder name that is safe in OPFS and the same after a reload. */
function runKey(model: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < model.length; i++) h = Math.imul(h ^ model.charCodeAt(i), 0x01000193) >>> 0;
  return h.toString(16).padStart(8, '0');
}

const ext = (f: File) => /\.([a-z0-9]{2,5})$/i.exec(f.name)?.[1]?.toLowerCase() ?? (f.type.split('/')[1] || 'bin');

export class RunStore {
  private constructor(
    private readonly dir: FileSystemDirectoryHandle,
    readonly model: string,
  ) {}

  /** The store for `model` (created on first write). Throws when the browser has no OPFS. */
  static async open(model: string): Promise<RunStore> {
    const root = await opfsRoot();
    const dir = await folderAt(root, `multi-token/train/${runKey(model)}`, true);
    return new RunStore(dir!, model);
  }

  /** Saves the examples (pictures written once, removed pictures deleted) and settings. */
  async saveRun(examples: readonly TrainExample[], settings: TrainSettings): Promise<void> {
    const stored: StoredExample[] = [];
    const keep = new Set<string>();
    for (const e of examples) {
      const pictures = [];
      for (let k = 0; k < e.pictures.length; k++) {
        const f = e.pictures[k];
        const path = `pictures/${e.id}-${k}.${ext(f)}`.replace(/[^\w./-]/g, '_');
        keep.add(path.slice('pictures/'.length));
        const have = await fileAt(this.dir, path);
        if (!have || have.size !== f.size) await writeFileAt(this.dir, path, new Uint8Array(await f.arrayBuffer()));
        pictures.push({ path, name: f.name, type: f.type });
      }
      stored.push({ id: e.id, qa: e.qa, messages: e.messages, origin: e.origin, pictures });
    }
    const pics = await folderAt(this.dir, 'pictures');
    if (pics) for (const { name } of await listFolder(pics)) if (!keep.has(name)) await removeEntry(pics, name);
    const run: RunFile = { version: 1, model: this.model, settings, examples: stored };
    await writeFileAt(this.dir, 'run.json', JSON.stringify(run, null, 2));
  }

  /** The stored examples and settings, or null when none are stored. */
  async loadRun(): Promise<{ examples: TrainExample[]; settings: TrainSettings } | null> {
    const f = await fileAt(this.dir, 'run.json');
    if (!f) return null;
    const run = JSON.parse(await f.text()) as RunFile;
    const examples: TrainExample[] = [];
    for (const e of run.examples) {
      const pictures: File[] = [];
      for (const p of e.pictures) {
        const file = await fileAt(this.dir, p.path);
        if (!file) throw new Error(`the stored run lost its picture ${p.name} (${p.path})`);
        pictures.push(new File([file], p.name, { type: p.type }));
      }
      examples.push({ id: e.id, qa: e.qa, messages: e.messages, origin: e.origin, pictures });
    }
    return { examples, settings: run.settings };
  }

  /** Writes `checkpoint-<step>/` (trainer_state.json last), then removes all but the newest complete ones. */
  async saveCheckpoint(step: number, files: Map<string, Uint8Array | string>): Promise<void> {
    const name = `checkpoint-${step}`;
    await removeEntry(this.dir, name); // a half-written one from an interrupted save
    const dir = (await folderAt(this.dir, name, true))!;
    for (const [path, data] of files) if (path !== 'trainer_state.json') await writeFileAt(dir, path, data);
    const state = files.get('trainer_state.json');
    if (state === undefined) throw new Error('a checkpoint needs trainer_state.json');
    await writeFileAt(dir, 'trainer_state.json', state);
    const all = await this.checkpointSteps();
    for (const s of all.complete.slice(0, -KEEP)) await removeEntry(this.dir, `checkpoint-${s}`);
    for (const s of all.partial) if (s !== step) await removeEntry(this.dir, `checkpoint-${s}`);
  }

  /** The newest complete checkpoint, or null. */
  async latestCheckpoint(): Promise<StoredCheckpoint | null> {
    const { complete } = await this.checkpointSteps();
    const step = complete[complete.length - 1];
    if (step === undefined) return null;
    const dir = (await folderAt(this.dir, `checkpoint-${step}`))!;
    return { step, source: new OpfsSource(dir, `browser storage: checkpoint-${step}`) };
  }

  /** Deletes every checkpoint (a run that starts over must not be outranked by an older run's later steps). */
  async clearCheckpoints(): Promise<void> {
    const { complete, partial } = await this.checkpointSteps();
    for (const s of [...complete, ...partial]) await removeEntry(this.dir, `checkpoint-${s}`);
  }

  /** Forgets the run: pictures, answers, checkpoints. */
  async clear(): Promise<void> {
    for (const { name } of await listFolder(this.dir)) await removeEntry(this.dir, name);
  }

  private async checkpointSteps(): Promise<{ complete: number[]; partial: number[] }> {
    const complete: number[] = [];
    const partial: number[] = [];
    for (const { name, kind } of await listFolder(this.dir)) {
      const m = /^checkpoint-(\d+)$/.exec(name);
      if (!m || kind !== 'directory') continue;
      const done = await fileAt(this.dir, `${name}/trainer_state.json`);
      (done ? complete : partial).push(Number(m[1]));
    }
    return { complete: complete.sort((a, b) => a - b), partial };
  }
}
