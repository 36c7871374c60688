/**
 * `multi-token start` (`npm start`): the main job on the embedded default. Serves the bundled demo model
 * (`models/demo`, trained by `scripts/make-demo-model.sh`) over HTTP and the demo page that runs the same
 * model in the browser, on 127.0.0.1, and prints how to try both. Nothing is downloaded.
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { serveCommand } from './serve.js';
import { writeDirAtomic } from '../atomic-write.js';
import { initRuntime } from '../runtime.js';
import { tinyFiles } from './make-tiny.js';
import { int } from './options.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface StartOptions {
  port: number;
  host: string;
  model?: string;
  rebuild?: boolean;
  backend?: string;
}

/** The demo model, or (in a checkout without it) an untrained tiny one made on the spot. */
async function demoModel(explicit: string | undefined, log: (s: string) => void): Promise<string> {
  if (explicit) return explicit;
  const shipped = path.join(repo, 'models/demo');
  if (existsSync(path.join(shipped, 'config.json'))) return shipped;
  const tiny = path.join(repo, '.cache/tiny-demo');
  if (!existsSync(path.join(tiny, 'config.json'))) {
    log('models/demo is missing: making an untrained tiny model instead (its answers are noise)');
    await writeDirAtomic(tiny, await tinyFiles({ out: tiny, arch: 'llama', seed: 0, lmm: true, modalities: 'vision_clip' }));
  }
  return tiny;
}

/** Builds the demo page with vite if it is not built yet (or with --rebuild). */
async function webRoot(rebuild: boolean, log: (s: string) => void): Promise<string> {
  const dist = path.join(repo, 'web/dist');
  if (!rebuild && existsSync(path.join(dist, 'index.html'))) return dist;
  log('building the demo page (vite)…');
  const [{ build }, config] = await Promise.all([import('vite'), import(path.join(repo, 'vite.config.ts'))]);
  await build({ ...config.pageConfig(dist), configFile: false, logLevel: 'error' });
  return dist;
}

export function registerStart(program: Command): void {
  program
    .command('start')
    .description('serve the built-in demo model (HTTP API + in-browser demo page) on 127.0.0.1')
    .option('--port <n>', 'port', int, 7860)
    .option('--host <host>', 'address to bind', '127.0.0.1')
    .option('--model <dir>', 'serve this checkpoint instead of models/demo')
    .option('--rebuild', 'rebuild the demo page')
    .option('--backend <name>', 'tfjs backend for the server')
    .action(async (o: StartOptions) => {
      const log = (s: string) => process.stderr.write(`[multi-token] ${s}\n`);
      await initRuntime({ backend: o.backend });
      const model = await demoModel(o.model, log);
      const web = await webRoot(o.rebuild ?? false, log);
      const { url } = await serveCommand({
        model_name_or_path: model,
        port: o.port,
        host: o.host,
        web_root: web,
        static_mounts: [{ prefix: '/models/demo/', dir: model }],
        media_root: path.join(repo, 'examples'),
        log_requests: false,
        temperature: 0,
      });
      const example = path.join(repo, 'examples/red-circle.png');
      process.stdout.write(
        [
          '',
          `  demo page:  ${url}/   (runs the model in your browser; WebGPU when available)`,
          `  HTTP API:   ${url}/generate, ${url}/v1/chat/completions`,
          '',
          '  try it:',
          `    curl -s ${url}/generate -H 'content-type: application/json' \\`,
          `      -d '{"messages":[{"role":"user","content":"What colour is the shape in <image>?"}],"images":["${example}"]}'`,
          `    npx multi-token generate --model ${path.relative(process.cwd(), model) || model} --images ${path.relative(process.cwd(), example)} --prompt "What is in <image>?"`,
          '',
          '  Ctrl-C to stop.',
          '',
        ].join('\n'),
      );
    });
}
