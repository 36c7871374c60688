/** Option parsers for commander that fail with the option's name and the bad value. */
import { InvalidArgumentError } from 'commander';

export function int(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n)) throw new InvalidArgumentError(`expected an integer, got "${value}"`);
  return n;
}

export function float(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n)) throw new InvalidArgumentError(`expected a number, got "${value}"`);
  return n;
}

/** `--flag`, `--flag true|false|1|0`: the seed's HF-style booleans (`--lora_enable True`). */
export function bool(value: string | undefined): boolean {
  if (value === undefined) return true;
  const v = value.toLowerCase();
  if (['true', '1', 'yes'].includes(v)) return true;
  if (['false', '0', 'no'].includes(v)) return false;
  throw new InvalidArgumentError(`expected true or false, got "${value}"`);
}

/** Parses a JSON command-line option; errors name the flag. */
export function parseJsonOption<T>(text: string | undefined, flag: string): T | undefined {
  if (text === undefined || text === '') return undefined;
  try {
    const v = JSON.parse(text) as unknown;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('expected a JSON object');
    return v as T;
  } catch (e) {
    throw new Error(`${flag} must be a JSON object, e.g. '{"encoder": "openai/clip-vit-large-patch14-336"}' (${(e as Error).message})`);
  }
}
