import type { ModelSource } from '../io/source.js';
import type { Modality, ModalityConfig } from './modality.js';

/**
 * What a builder may need: the model folder (encoders ship inside it, or next to it) and per-modality
 * options from config.json or the command line.
 */
export interface BuildContext {
  /** The checkpoint being loaded; relative encoder paths resolve against it. */
  source?: ModelSource;
  /** Opens another folder or URL (an encoder given by path). Node supplies a folder reader. */
  open?: (where: string) => ModelSource;
  /** Options for the builder, e.g. `{ dim: 8 }` for `vector`, `{ encoder: 'clip/' }` for `vision_clip`. */
  options?: Record<string, unknown>;
}

/** Rebuilds one modality from its config.json entry. */
export type ModalityFactory = (config: ModalityConfig, ctx: BuildContext) => Promise<Modality>;

/** Builds the modality list for a builder name, as the seed's `MODALITY_BUILDERS[name]()` does. */
export type ModalityBuilder = (ctx: BuildContext) => Promise<Modality[]>;

const factories = new Map<string, ModalityFactory>();

/**
 * The builder registry: name → modality list. Mirrors the seed's `MODALITY_BUILDERS`; extend it with
 * `registerModalityBuilder` (and `registerModalityKind` so saved checkpoints can rebuild your modality).
 * Each built-in family registers itself in its own `register.ts`, the way a user's modality does
 * (`src/lmm/load.ts` imports them all):
 *
 * | builder            | modality (token, data key)                         | family folder    | encoder              |
 * |--------------------|----------------------------------------------------|------------------|----------------------|
 * | vector             | vector (`<vector>`, vectors)                       | vector/          | none                 |
 * | vision_clip        | vision_clip (`<image>`, images), patch tokens      | vision-clip/     | CLIP vision          |
 * | vision_clip_pool   | vision_clip (`<image>`, images), 10 tokens         | vision-clip/     | CLIP vision          |
 * | video_clip         | video_clip (`<video>`, videos), 10 tokens          | video/           | CLIP per frame       |
 * | audio_whisper      | audio_whisper (`<speech>`, speech_audios), 10      | audio-whisper/   | Whisper              |
 * | document_gte(_x16) | document_gte (`<document>`, documents), 4 / 32     | document-gte/    | BERT/GTE             |
 * | audio_clap         | audio_clap (`<sound>`, sounds), 5                  | onnx/            | ONNX CLAP audio      |
 * | imagebind          | imagebind (`<imagebind>`, imagebinds), 4           | onnx/            | ONNX ImageBind       |
 * | onnx               | any (configurable)                                 | onnx/            | any ONNX encoder     |
 */
export const MODALITY_BUILDERS: Record<string, ModalityBuilder> = {};

export function registerModalityBuilder(name: string, builder: ModalityBuilder): void {
  MODALITY_BUILDERS[name] = builder;
}

export function registerModalityKind(kind: string, factory: ModalityFactory): void {
  factories.set(kind, factory);
}

/** Builds the modalities of a builder name; unknown names list the known ones. */
export async function buildModalities(builder: string, ctx: BuildContext = {}): Promise<Modality[]> {
  const b = MODALITY_BUILDERS[builder];
  if (!b) {
    throw new Error(`unknown modality builder "${builder}" (known: ${Object.keys(MODALITY_BUILDERS).sort().join(', ')})`);
  }
  return b(ctx);
}

/** Rebuilds a modality from a config.json entry via the factory registered for its `kind`. */
export async function modalityFromConfig(config: ModalityConfig, ctx: BuildContext = {}): Promise<Modality> {
  const f = factories.get(config.kind);
  if (!f) {
    throw new Error(
      `config.json lists modality "${config.name}" of kind "${config.kind}", which is not registered ` +
        `(known: ${[...factories.keys()].sort().join(', ')}); register it with registerModalityKind()`,
    );
  }
  return f(config, ctx);
}
