import type { ModelSource } from '../io/source.js';
import type { Modality, ModalityConfig } from './modality.js';
import { VectorModality } from './vector.js';

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

function numberOption(o: Record<string, unknown>, key: string, fallback?: number): number {
  const v = o[key];
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (v === undefined && fallback !== undefined) return fallback;
  throw new Error(`modality option "${key}" must be a number (got ${JSON.stringify(v)})`);
}

function vectorFrom(o: Record<string, unknown>): VectorModality {
  if (o.dim === undefined) {
    throw new Error('the vector modality needs its vector length: --modality_options \'{"dim": 8}\' (also numTokens, token, dataKey)');
  }
  return new VectorModality({
    dim: numberOption(o, 'dim'),
    numTokens: numberOption(o, 'numTokens', 1),
    projectorLayers: numberOption(o, 'projectorLayers', 2),
    name: typeof o.name === 'string' ? o.name : undefined,
    token: typeof o.token === 'string' ? o.token : undefined,
    dataKey: typeof o.dataKey === 'string' ? o.dataKey : undefined,
  });
}

registerModalityKind('vector', async (config) => vectorFrom(config));
registerModalityBuilder('vector', async (ctx) => [vectorFrom(ctx.options ?? {})]);
