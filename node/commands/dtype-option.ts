/**
 * `--dtype f32|f16|bf16|int8|int4` (how an LM's Linear weights are held, docs/quantization.md) and the seed's
 * `--bits 4|8|16` / `--load_bits` spelling of the same choice, shared by generate, eval, serve and train.
 */
import { InvalidArgumentError } from 'commander';
import { WEIGHT_DTYPES, type WeightDType } from '../../src/nn/frozen-weight.js';

/** commander parser for `--dtype`. */
export function dtypeOption(value: string): WeightDType {
  const v = value.trim().toLowerCase();
  if (!(WEIGHT_DTYPES as readonly string[]).includes(v)) throw new InvalidArgumentError(`expected one of ${WEIGHT_DTYPES.join(', ')}, got "${value}"`);
  return v as WeightDType;
}

export const DTYPE_HELP = 'hold the LM\'s Linear weights as f32 | f16 | bf16 | int8 | int4 (quantized at load unless the checkpoint is); default f32, or a quantized checkpoint\'s bits';

/**
 * The dtype from `--dtype` and a seed-style bits flag (`--bits` / `--load_bits`: 16 = as stored, 8, 4);
 * an error when the two disagree.
 */
export function resolveDType(dtype: WeightDType | undefined, bits: number | undefined, bitsFlag: string): WeightDType | undefined {
  if (bits === undefined || bits === 16 || bits === 32) return dtype;
  if (bits !== 4 && bits !== 8) throw new Error(`${bitsFlag} must be 4, 8 or 16, got ${bits}`);
  const fromBits: WeightDType = bits === 4 ? 'int4' : 'int8';
  if (dtype && dtype !== fromBits) throw new Error(`${bitsFlag} ${bits} and --dtype ${dtype} disagree; give one of them`);
  return fromBits;
}
