/**
 * Training checkpoints on disk: `output_dir/checkpoint-<step>/` holding the model files (PEFT adapter,
 * projectors under the seed's names, LM weights for full finetunes), the optimizer state and
 * `trainer_state.json`. Each checkpoint folder is written to a temporary name and renamed into place, so a
 * run killed mid-write leaves the previous checkpoint intact and loadable.
 */
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import * as path from 'node:path';
import type { Tensor } from '../../src/tf.js';
import { lmmCheckpointFiles, type CheckpointFilesOptions } from '../../src/lmm/save.js';
import type { LMM } from '../../src/lmm/lmm.js';
import type { AdamW } from '../../src/train/adamw.js';
import { optimizerFile, readOptimizerFile } from '../../src/train/optimizer-file.js';
import type { TrainerState } from '../../src/train/trainer.js';
import { writeDirAtomic } from '../atomic-write.js';

export const CHECKPOINT_PREFIX = 'checkpoint-';

/** Checkpoint folders under `outputDir`, oldest first. */
export async function listCheckpoints(outputDir: string): Promise<{ step: number; dir: string }[]> {
  let names: string[];
  try {
    names = await readdir(outputDir);
  } catch {
    return [];
  }
  const out: { step: number; dir: string }[] = [];
  for (const n of names) {
    const m = /^checkpoint-(\d+)$/.exec(n);
    if (!m) continue;
    const dir = path.join(outputDir, n);
    // Only complete checkpoints count: trainer_state.json is written with everything else, atomically.
    if ((await stat(path.join(dir, 'trainer_state.json')).catch(() => null))?.isFile()) out.push({ step: Number(m[1]), dir });
  }
  return out.sort((a, b) => a.step - b.step);
}

/** Resolves `--resume_from_checkpoint` (a folder, or `true`/`latest` = the newest under `outputDir`). */
export async function resolveResume(value: string, outputDir: string): Promise<string> {
  if (['true', 'latest', '1'].includes(value.toLowerCase())) {
    const all = await listCheckpoints(outputDir);
    if (!all.length) throw new Error(`--resume_from_checkpoint ${value}: no complete checkpoint-* folder in ${outputDir}`);
    return all[all.length - 1].dir;
  }
  if (!(await stat(path.join(value, 'trainer_state.json')).catch(() => null))) {
    throw new Error(`--resume_from_checkpoint: ${value} is not a checkpoint folder (no trainer_state.json)`);
  }
  return value;
}

export interface SaveOptions extends CheckpointFilesOptions {
  /** Extra files (training_args.json, README.md, loss.svg, …). */
  extra?: Map<string, Uint8Array | string>;
  /** Keep at most this many checkpoint folders (0 = all). */
  saveTotalLimit?: number;
}

/** Writes `dir` atomically with the model, optimizer and trainer state. */
export async function saveTrainingState(dir: string, lmm: LMM, state: TrainerState, optimizer: AdamW, opts: SaveOptions): Promise<void> {
  const files = await lmmCheckpointFiles(lmm, opts);
  files.set('optimizer.safetensors', await optimizerFile(optimizer));
  files.set('trainer_state.json', JSON.stringify(state, null, 2) + '\n');
  for (const [k, v] of opts.extra ?? []) files.set(k, v);
  await writeDirAtomic(dir, files);
}

/**
 * Deletes the oldest checkpoints beyond `limit`, never `keep` (the best checkpoint, as HF's rotation spares
 * `best_model_checkpoint`) nor the newest (the one to resume from): with limit 1 and an older best, two remain.
 */
export async function rotateCheckpoints(outputDir: string, limit: number, keep?: string): Promise<string[]> {
  if (!(limit > 0)) return [];
  const all = await listCheckpoints(outputDir);
  const kept = keep ? all.filter((c) => path.resolve(c.dir) === path.resolve(keep)) : [];
  const others = all.filter((c) => !kept.includes(c));
  // The newest must stay (to resume from) — unless the best is the newest, which already stays.
  const bestIsNewest = kept.length > 0 && kept[0] === all[all.length - 1];
  const room = bestIsNewest ? Math.max(0, limit - 1) : Math.max(1, limit - kept.length);
  const doomed = others.slice(0, Math.max(0, others.length - room));
  for (const c of doomed) await rm(c.dir, { recursive: true, force: true });
  return doomed.map((c) => c.dir);
}

/** Reads a checkpoint's trainer state and optimizer tensors. */
export async function readTrainingState(dir: string): Promise<{ state: TrainerState; optimizerStep: number; optimizer: Map<string, Tensor> }> {
  const state = JSON.parse(await readFile(path.join(dir, 'trainer_state.json'), 'utf8')) as TrainerState;
  const file = path.join(dir, 'optimizer.safetensors');
  const { step, tensors } = readOptimizerFile(new Uint8Array(await readFile(file)), file, state.global_step);
  return { state, optimizerStep: step, optimizer: tensors };
}

/** Removes half-written checkpoint folders a killed run left behind (`checkpoint-N.tmp-*`, `.old-*`). */
export async function removeStaleTemp(outputDir: string): Promise<string[]> {
  const names = await readdir(outputDir).catch(() => [] as string[]);
  const stale = names.filter((n) => /^checkpoint-\d+\.(tmp|old)-/.test(n));
  for (const n of stale) await rm(path.join(outputDir, n), { recursive: true, force: true });
  return stale;
}
