/**
 * `multi-token quantize --model DIR --out DIR --bits 4|8 [--group_size 32|64|128] [--sym] [--lm_head]`: writes
 * the MatMulNBits safetensors layout (docs/quantization.md) that `--dtype int4|int8` loads in Node and the page.
 */
import type { Command } from 'commander';
import { quantizeFolder } from '../quantize/quantize-folder.js';
import { bool, int } from './options.js';

interface QuantizeCliOptions {
  model: string;
  out: string;
  bits: number;
  group_size: number;
  sym: boolean;
  lm_head: boolean;
  max_shard_size: number;
}

export function registerQuantize(program: Command): void {
  program
    .command('quantize')
    .description('write a 4-/8-bit copy of a checkpoint (ONNX Runtime MatMulNBits layout in safetensors)')
    .requiredOption('--model <dir>', 'float checkpoint folder (F32/F16/BF16 safetensors)')
    .requiredOption('--out <dir>', 'output folder (written atomically)')
    .requiredOption('--bits <n>', '4 or 8', int)
    .option('--group_size <n>', 'weights per scale along the input dimension: 32, 64 or 128 (also 16, 256)', int, 32)
    .option('--sym [bool]', 'symmetric (no zero points); default asymmetric, which is more accurate', bool, false)
    .option('--lm_head [bool]', 'also quantize lm_head (default: kept in float, as GPTQ/AWQ/bitsandbytes do)', bool, false)
    .option('--max_shard_size <mb>', 'largest safetensors shard in MB', int, 2000)
    .action(async (o: QuantizeCliOptions) => {
      if (o.bits !== 4 && o.bits !== 8) throw new Error(`--bits must be 4 or 8, got ${o.bits}`);
      const t0 = performance.now();
      const r = await quantizeFolder({
        model: o.model, out: o.out, bits: o.bits, groupSize: o.group_size, sym: o.sym, lmHead: o.lm_head,
        maxShardBytes: o.max_shard_size * 1e6,
      });
      const mb = (b: number) => `${(b / 1e6).toFixed(1)} MB`;
      process.stdout.write(
        `quantized ${r.quantized} matrices to int${o.bits} (group ${o.group_size}), kept ${r.kept} tensors; ` +
          `weights ${mb(r.bytesIn)} → ${mb(r.bytesOut)} in ${((performance.now() - t0) / 1000).toFixed(1)} s; wrote ${o.out}\n`,
      );
    });
}
