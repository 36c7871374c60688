/**
 * The `multi-token` command line. Each subcommand lives in `node/commands/`; this file only assembles them.
 */
import { Command } from 'commander';
import { registerMakeTiny } from './commands/make-tiny.js';
import { registerGenerate } from './commands/generate.js';
import { registerTrain } from './commands/train.js';
import { registerDatasetCommands } from './commands/dataset.js';
import { registerEval } from './commands/eval.js';
import { registerServe } from './commands/serve.js';
import { registerStart } from './commands/start.js';
import { registerQuantize } from './commands/quantize.js';
import { registerUpload } from './commands/upload.js';

export function buildProgram(): Command {
  const program = new Command('multi-token')
    .description('Embed images, audio, documents and vectors into language models: train, serve, generate.')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ outputError: (s, write) => write(s) });
  registerMakeTiny(program);
  registerGenerate(program);
  registerTrain(program);
  registerDatasetCommands(program);
  registerEval(program);
  registerServe(program);
  registerStart(program);
  registerQuantize(program);
  registerUpload(program);
  return program;
}

export async function main(argv: string[] = process.argv): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (e) {
    process.stderr.write(`multi-token: ${(e as Error).message}\n`);
    process.exitCode = 1;
  }
}

await main();
