/**
 * Typed reads of builder options (config.json `multi_token.modalities[]` entries, command-line options), with
 * errors that name the modality and the option.
 */

/** Options of one modality, as config.json or a builder call gives them. */
export type Options = Record<string, unknown>;

/** A positive integer option, or `fallback` when absent. */
export function intOption(o: Options, key: string, owner: string, fallback?: number): number {
  const v = o[key];
  if (v === undefined && fallback !== undefined) return fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
    throw new Error(`${owner}: option "${key}" must be a positive integer (got ${JSON.stringify(v)})`);
  }
  return v;
}

/** A string option, or `fallback` when absent. */
export function stringOption(o: Options, key: string, owner: string, fallback?: string): string {
  const v = o[key];
  if (v === undefined && fallback !== undefined) return fallback;
  if (typeof v !== 'string' || v === '') throw new Error(`${owner}: option "${key}" must be a non-empty string (got ${JSON.stringify(v)})`);
  return v;
}

/** A string option that may be absent. */
export function optionalString(o: Options, key: string, owner: string): string | undefined {
  return o[key] === undefined ? undefined : stringOption(o, key, owner);
}

/** One of `choices`, or `fallback` when absent. */
export function choiceOption<T extends string>(o: Options, key: string, owner: string, choices: readonly T[], fallback: T): T {
  const v = o[key];
  if (v === undefined) return fallback;
  if (typeof v !== 'string' || !(choices as readonly string[]).includes(v)) {
    throw new Error(`${owner}: option "${key}" must be one of ${choices.join(', ')} (got ${JSON.stringify(v)})`);
  }
  return v as T;
}

/** A nested options object, or `{}` when absent. */
export function objectOption(o: Options, key: string, owner: string): Options {
  const v = o[key];
  if (v === undefined) return {};
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error(`${owner}: option "${key}" must be an object`);
  return v as Options;
}
