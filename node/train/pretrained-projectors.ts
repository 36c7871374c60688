/**
 * `--pretrained_projectors_path` checked against the model it is loaded into. The loader builds each projector
 * from whatever tensors the file has, so a projector trained for another LM width, another depth
 * (mlp2x vs mlp3x) or another token count would load "fine" and fail at the first step, or lose layers
 * silently. Here each one is compared with the projector the model's modality would build: a different shape is
 * a one-line error at start; tensors for modalities the model does not have are returned for a note.
 */
import type { RawTensor } from '../../src/io/safetensors.js';
import type { LMM } from '../../src/lmm/lmm.js';
import { normaliseProjectorKey } from '../../src/lmm/projector-keys.js';
import { initProjector } from '../../src/projector/index.js';

export class ProjectorShapeError extends Error {}

/**
 * Throws `ProjectorShapeError` naming the first tensor whose shape (or presence) differs from what the model
 * expects; returns the file's projector tensors for modalities the model lacks.
 */
export function checkPretrainedProjectors(lmm: LMM, weights: Map<string, RawTensor>, where: string): { foreign: string[] } {
  const byModality = new Map<string, Set<string>>();
  for (const key of weights.keys()) {
    const k = normaliseProjectorKey(key);
    if (!k) continue;
    const m = /^(.+?)_lmm_projector\.(.+)$/.exec(k)!;
    const set = byModality.get(m[1]) ?? new Set<string>();
    set.add(m[2]);
    byModality.set(m[1], set);
  }
  const names = new Set(lmm.modalities.map((m) => m.name));
  const foreign = [...byModality].filter(([name]) => !names.has(name)).flatMap(([name, ks]) => [...ks].map((k) => `${name}_lmm_projector.${k}`));
  const hidden = lmm.lm.config.hiddenSize;
  lmm.modalities.forEach((mod, i) => {
    const inFile = byModality.get(mod.name);
    if (!inFile) return; // the loader already failed or initialised it; nothing to compare
    // Deterministic values: only the shapes matter.
    const fresh = initProjector(mod.projectorSpec, hidden, () => 0.5);
    try {
      const want = fresh.parameters();
      const got = lmm.projectors[i].parameters();
      const extra = [...inFile].filter((k) => !want.has(k));
      if (extra.length) {
        throw new ProjectorShapeError(
          `${where}: ${mod.name}_lmm_projector.${extra[0]} has no place in this model's ${mod.name} projector (${want.size} tensors: ${[...want.keys()].join(', ')}); it was trained with another projector type or depth`,
        );
      }
      for (const [n, v] of want) {
        const have = got.get(n);
        if (have && have.shape.join() !== v.shape.join()) {
          throw new ProjectorShapeError(
            `${where}: ${mod.name}_lmm_projector.${n} has shape [${have.shape}] where this model (LM hidden ${hidden}) needs [${v.shape}]; it was trained for another model`,
          );
        }
      }
    } finally {
      fresh.dispose();
    }
  });
  return { foreign };
}
