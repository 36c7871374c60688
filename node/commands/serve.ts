/**
 * `multi-token serve`: the seed's `scripts/serve_model.py` flags (`--model_name_or_path`, `--model_lora_path`,
 * `--port`, `--host`, `--max_new_tokens`, `--temperature`, `--load_bits 4|8|16` = `--dtype int4|int8`) plus the
 * limits a public server needs. Unlike the seed it binds 127.0.0.1 unless told otherwise.
 *
 * `--model_lora_path` is the trained checkpoint (adapter, projectors, modality config) and
 * `--model_name_or_path` its base LM, as in the seed; without a LoRA path the model path is the checkpoint.
 */
import * as path from 'node:path';
import type { Command } from 'commander';
import { loadLMM } from '../../src/lmm/load.js';
import { openSource } from '../folder-source.js';
import { initRuntime } from '../runtime.js';
import { bool, float, int, parseJsonOption } from './options.js';
import { createServer, type ServerHandle } from '../server/app.js';
import { DTYPE_HELP, dtypeOption, resolveDType } from './dtype-option.js';
import type { WeightDType } from '../../src/nn/frozen-weight.js';
import { DEFAULT_BUDGETS } from '../server/budgets.js';

/** Parsed `serve` options (snake_case, as the flags). */
export interface ServeCliOptions {
  model_name_or_path: string;
  model_lora_path?: string;
  /** JSON builder options for a checkpoint without our `multi_token` section (the seed's LoRA folders). */
  modality_options?: string;
  port?: number;
  host?: string;
  max_new_tokens?: number;
  temperature?: number;
  load_bits?: number;
  media_root?: string;
  allow_private_urls?: boolean;
  /** Bearer key for the API routes; falls back to `$MULTI_TOKEN_API_KEY` (keeps it out of `ps`). */
  api_key?: string;
  max_body_bytes?: number;
  max_items?: number;
  max_tokens_cap?: number;
  max_batch_size?: number;
  max_queue?: number;
  fetch_timeout_ms?: number;
  max_media_bytes?: number;
  web_root?: string;
  /** Extra static folders under URL prefixes (programmatic; `npm start` mounts the demo model). */
  static_mounts?: { prefix: string; dir: string }[];
  backend?: string;
  /** How the LM's Linear weights are held (`--dtype`; `--load_bits 4|8` says the same). */
  dtype?: WeightDType;
  /** Log one JSON line per request (fastify/pino). Default true. Server errors are logged either way. */
  log_requests?: boolean;
  max_image_pixels?: number;
  max_aspect_ratio?: number;
  max_resized_pixels?: number;
  max_request_pixels?: number;
  max_audio_seconds?: number;
  max_document_chars?: number;
  max_request_chars?: number;
  media_workers?: number;
  header_timeout_ms?: number;
  request_timeout_ms?: number;
}

const isLoopback = (host: string) => host === 'localhost' || host === '::1' || host.startsWith('127.');

/**
 * Selects the backend, loads the model and starts listening. Resolves once the server is up (the process
 * then stays alive serving); returns the handle so a caller can close it.
 */
export async function serveCommand(o: ServeCliOptions): Promise<ServerHandle & { url: string }> {
  const log = (s: string) => process.stderr.write(`[multi-token] ${s}\n`);
  await initRuntime({ backend: o.backend });
  const dtype = resolveDType(o.dtype, o.load_bits, '--load_bits');
  const checkpoint = o.model_lora_path ?? o.model_name_or_path;
  const lmm = await loadLMM(checkpoint, {
    base: o.model_lora_path ? o.model_name_or_path : undefined,
    open: openSource,
    onProgress: log,
    dtype,
    modalityOptions: parseJsonOption<Record<string, unknown>>(o.modality_options, '--modality_options'),
  });
  const apiKey = o.api_key ?? process.env.MULTI_TOKEN_API_KEY ?? undefined;
  const host = o.host ?? '127.0.0.1';
  if (!isLoopback(host) && !apiKey) log(`warning: listening on ${host} without --api_key: anyone who can reach it can use the model`);
  const handle = await createServer({
    lmm,
    modelName: path.basename(path.resolve(checkpoint)) || checkpoint,
    maxNewTokens: o.max_new_tokens,
    temperature: o.temperature,
    maxTokensCap: o.max_tokens_cap,
    maxBodyBytes: o.max_body_bytes,
    maxItems: o.max_items,
    maxBatchSize: o.max_batch_size,
    maxQueue: o.max_queue,
    apiKey,
    mediaRoot: o.media_root,
    allowPrivateUrls: o.allow_private_urls,
    fetchTimeoutMs: o.fetch_timeout_ms,
    maxMediaBytes: o.max_media_bytes,
    webRoot: o.web_root,
    staticMounts: o.static_mounts,
    budgets: {
      maxImagePixels: o.max_image_pixels,
      maxAspectRatio: o.max_aspect_ratio,
      maxResizedPixels: o.max_resized_pixels,
      maxRequestPixels: o.max_request_pixels,
      maxAudioSeconds: o.max_audio_seconds,
      maxDocumentChars: o.max_document_chars,
      maxRequestChars: o.max_request_chars,
    },
    mediaWorkers: o.media_workers,
    headersTimeoutMs: o.header_timeout_ms,
    requestTimeoutMs: o.request_timeout_ms,
    // Errors (5xx, with their stack) are logged whatever --log_requests says; it only drops the per-request lines
    // (fastify logs those at "info").
    logger: { level: o.log_requests === false ? 'error' : 'info' },
  });
  const url = await handle.listen({ host, port: o.port ?? 7860 });
  log(`serving ${checkpoint} at ${url} (POST /generate, POST /v1/chat/completions, GET /v1/models, GET /health)`);
  const stop = () => {
    log('shutting down');
    handle.close().then(() => process.exit(0), () => process.exit(1));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return { ...handle, url };
}

/** Adds `serve` to a commander program (the lead's node/cli.ts calls this). */
export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('serve a model over HTTP: the seed\'s POST /generate and an OpenAI-compatible /v1/chat/completions')
    .requiredOption('--model_name_or_path <dir>', 'checkpoint folder or URL (the base LM when --model_lora_path is given)')
    .option('--model_lora_path <dir>', 'trained checkpoint with LoRA adapter and projectors')
    .option('--modality_options <json>', 'builder options for the seed\'s checkpoints (no multi_token section), e.g. \'{"encoder": "openai/clip-vit-large-patch14-336"}\'')
    .option('--port <n>', 'port', int, 7860)
    .option('--host <host>', 'address to bind (the seed used 0.0.0.0; we default to loopback)', '127.0.0.1')
    .option('--max_new_tokens <n>', 'default completion length', int, 128)
    .option('--temperature <t>', 'default sampling temperature (0 = greedy)', float, 0.01)
    .option('--load_bits <n>', "the seed's quantisation flag: 4 or 8 = --dtype int4|int8, 16 = as stored", int)
    .option('--dtype <dtype>', DTYPE_HELP, dtypeOption)
    .option('--media_root <dir>', 'allow local item paths, only under this folder (off by default)')
    .option('--allow_private_urls [bool]', 'fetch URLs that resolve to loopback/private/link-local addresses', bool, false)
    .option('--api_key <key>', 'require "Authorization: Bearer <key>" (or set MULTI_TOKEN_API_KEY)')
    .option('--max_body_bytes <n>', 'largest request body (413 beyond)', int, 32 * 1024 * 1024)
    .option('--max_items <n>', 'most modality items per request', int, 16)
    .option('--max_tokens_cap <n>', 'largest max_tokens a request may ask for (422 beyond)', int, 2048)
    .option('--max_batch_size <n>', 'most requests decoded together', int, 8)
    .option('--max_queue <n>', 'most requests waiting (429 beyond)', int, 64)
    .option('--fetch_timeout_ms <n>', 'deadline for fetching one media URL', int, 10_000)
    .option('--max_media_bytes <n>', 'largest media item (download, file or data URL)', int, 20 * 1024 * 1024)
    .option('--web_root <dir>', 'also serve the static files of this folder (the demo page)')
    .option('--max_image_pixels <n>', 'most decoded pixels per image or video frame, and per padded square (413 beyond; read from the header)', int, DEFAULT_BUDGETS.maxImagePixels)
    .option('--max_aspect_ratio <r>', 'longest over shortest side of an image not padded to a square (400 beyond)', float, DEFAULT_BUDGETS.maxAspectRatio)
    .option('--max_resized_pixels <n>', "most pixels of an image after the encoder's resize (413 beyond)", int, DEFAULT_BUDGETS.maxResizedPixels)
    .option('--max_request_pixels <n>', 'most decoded pixels of all images of one request (413 beyond)', int, DEFAULT_BUDGETS.maxRequestPixels)
    .option('--max_audio_seconds <s>', 'longest audio item, read from WAV/MP3 headers (413 beyond)', float, DEFAULT_BUDGETS.maxAudioSeconds)
    .option('--max_document_chars <n>', 'most characters per document item (413 beyond)', int, DEFAULT_BUDGETS.maxDocumentChars)
    .option('--max_request_chars <n>', 'most characters of text per request, messages and documents (413 beyond; a prompt that cannot fit the context is 422 before tokenizing)', int, DEFAULT_BUDGETS.maxRequestChars)
    .option('--media_workers <n>', 'worker threads that decode and preprocess media (0 = on the main thread; default: one per core)', int)
    .option('--header_timeout_ms <n>', 'a client must send its request headers within this time (408 and closed beyond)', int, 10_000)
    .option('--request_timeout_ms <n>', 'a client must send its whole request, body included, within this time (408 and closed beyond)', int, 60_000)
    .option('--log_requests [bool]', 'log one JSON line per request (server errors are logged with their stack either way)', bool, true)
    .option('--backend <name>', 'tfjs backend (auto, tensorflow, wasm, cpu, webgpu)')
    .action(async (o: ServeCliOptions) => {
      await serveCommand(o);
    });
}
