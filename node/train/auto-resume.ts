/**
 * Which checkpoint a `train` run continues from, as the seed's `train_model.py` decides: an `output_dir` that
 * already holds `checkpoint-*` folders resumes from the newest one, so re-running the same command after a crash
 * picks up where it stopped. `--overwrite_output_dir` starts over (its old checkpoints are removed, so a later
 * re-run cannot resume from a stale one); `--resume_from_checkpoint DIR|true|false` chooses explicitly. A
 * checkpoint of another kind of run (projector pretraining vs LoRA vs full) is refused rather than continued.
 */
import { readFile, rm } from 'node:fs/promises';
import * as path from 'node:path';
import { listCheckpoints, resolveResume } from './checkpoint.js';

export interface ResumeChoice {
  /** The checkpoint folder to continue from, or null to start fresh. */
  dir: string | null;
  /** Why (for the log). */
  note: string | null;
}

/** The mode a checkpoint was trained in, from its training_args.json (null when unknown). */
async function checkpointMode(dir: string): Promise<string | null> {
  try {
    const a = JSON.parse(await readFile(path.join(dir, 'training_args.json'), 'utf8')) as { mode?: unknown };
    return typeof a.mode === 'string' ? a.mode : null;
  } catch {
    return null;
  }
}

export async function chooseResume(opts: { outputDir: string; resume?: string; overwrite: boolean; mode: string }): Promise<ResumeChoice> {
  const { outputDir: out } = opts;
  const existing = await listCheckpoints(out);
  if (opts.resume !== undefined && !['false', '0', 'no'].includes(opts.resume.toLowerCase())) {
    return { dir: await resolveResume(opts.resume, out), note: null };
  }
  if (opts.overwrite || opts.resume !== undefined) {
    if (!existing.length) return { dir: null, note: null };
    if (opts.overwrite) for (const c of existing) await rm(c.dir, { recursive: true, force: true });
    return {
      dir: null,
      note: opts.overwrite
        ? `--overwrite_output_dir: starting over; removed ${existing.length} old checkpoint(s) from ${out}`
        : `--resume_from_checkpoint ${opts.resume}: starting over although ${out} has checkpoints`,
    };
  }
  const newest = existing[existing.length - 1];
  if (!newest) return { dir: null, note: null };
  const mode = await checkpointMode(newest.dir);
  if (mode && mode !== opts.mode) {
    throw new Error(
      `${out} holds checkpoints of a ${mode} run (newest: ${path.basename(newest.dir)}) and this is a ${opts.mode} run: ` +
        'pass --overwrite_output_dir to start over there, or choose another --output_dir',
    );
  }
  return { dir: newest.dir, note: `${out} has checkpoints: resuming from the newest, ${path.basename(newest.dir)} (--overwrite_output_dir starts over)` };
}
