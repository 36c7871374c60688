/**
 * Registers the vector family with the registry: builder and kind `vector` (arbitrary float vectors — game
 * state, sensors, embeddings — through a vector projector). No encoder. Importing this file is enough.
 */
import { registerModalityBuilder, registerModalityKind } from '../registry.js';
import { VectorModality } from './vector.js';

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
