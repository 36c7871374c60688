/**
 * A modality item whose preprocessing already ran elsewhere (a server's worker thread): the exact values the
 * modality's own `preprocess` would have produced for it, which `preprocess` then takes as they are. This is how
 * decoding and resizing leave the thread that runs the model without changing a single value: the worker runs the
 * same functions (CLIP's Pillow-exact resize, Whisper's log-mel) on the same configuration.
 *
 * Only code can make one (JSON has no classes), so a client cannot pass one off as its own data.
 */

/** What the values are, and so which modality may take them. */
export type PreparedKind = 'clip-pixels' | 'clip-video' | 'whisper-features';

/** Preprocessed values of one item. */
export class PreparedItem {
  constructor(
    readonly kind: PreparedKind,
    /** `count` blocks of the modality's per-item size, back to back (`[3, H, W]` pixels, `[mels, frames]` features). */
    readonly data: Float32Array,
    /** Blocks in `data`: 1, or a video's frames. */
    readonly count = 1,
  ) {}
}

/** `value` as a prepared item of `kind` holding `count × size` values, or null when it is something else. */
export function preparedAs(value: unknown, kind: PreparedKind, size: number): PreparedItem | null {
  if (!(value instanceof PreparedItem) || value.kind !== kind) return null;
  if (value.data.length !== value.count * size) {
    throw new Error(`prepared ${kind} item holds ${value.data.length} values, expected ${value.count} × ${size}`);
  }
  return value;
}
