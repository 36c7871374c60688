/**
 * Key names of projector weights across the Python library's checkpoints and ours. The seed saves
 * `non_lora_trainables` from the PEFT-wrapped model (`base_model.model.model.<name>_lmm_projector.0.weight`), or
 * from the bare model (`model.<name>_lmm_projector.0.weight`); its loader strips `base_model.model.model.`.
 * We write the PEFT form (what the seed's loader expects) and read all of them.
 */

/** The prefix we write, matching what `LMMMetaModel._load_projector_weights` strips. */
export const SEED_PROJECTOR_PREFIX = 'base_model.model.model.';

const PREFIXES = ['base_model.model.model.', 'base_model.model.', 'model.'];

/** `<name>_lmm_projector.<rest>` for a projector key in any known layout, or null for other keys. */
export function normaliseProjectorKey(key: string): string | null {
  let k = key;
  for (const p of PREFIXES) {
    if (k.startsWith(p)) {
      k = k.slice(p.length);
      break;
    }
  }
  return /^[^.]+_lmm_projector\./.test(k) ? k : null;
}

/** Non-projector keys of a seed `non_lora_trainables` file are LM weights (full finetunes): HF names. */
export function normaliseLMKey(key: string): string {
  return key.startsWith('base_model.model.') ? key.slice('base_model.model.'.length) : key;
}
