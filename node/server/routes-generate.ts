/**
 * `POST /generate`: the seed's endpoint (scripts/serve_model.py). The body is a dataset row —
 * `{"messages": [...], "images": [...], <any modality's data key>: [...]}` — and the answer is
 * `{"output": "..."}`, the completion stripped of surrounding whitespace as the seed does. Items may be
 * http(s) URLs, data URLs, or paths under `--media_root`. `max_new_tokens` and `temperature` may be given
 * per request (the seed only took them from its command line).
 */
import type { FastifyInstance } from 'fastify';
import type { ChatRow } from '../../src/chat/encode-chat.js';
import { admitAndRun, clientSignal, requestId, type ServeContext } from './admission.js';
import { generateBodySchema } from './schemas.js';
import type { JobSettings } from './scheduler.js';

interface GenerateBody {
  messages: { role: string; content: string }[];
  id?: string | number;
  max_new_tokens?: number;
  temperature?: number;
  [dataKey: string]: unknown;
}

/** Registers `POST /generate`. */
export function registerGenerateRoute(app: FastifyInstance, ctx: ServeContext): void {
  app.post('/generate', { schema: { body: generateBodySchema(ctx.maxItems) } }, async (request, reply) => {
    const { id: _clientId, max_new_tokens, temperature, ...rest } = request.body as GenerateBody;
    const id = requestId('gen');
    const row: ChatRow = { ...rest, id };
    // A null data key means "none" (clients that always send every key).
    for (const k of Object.keys(row)) if (row[k] === null) delete row[k];
    const settings: JobSettings = { maxNewTokens: max_new_tokens ?? ctx.maxNewTokens, temperature: temperature ?? ctx.temperature };
    const result = await admitAndRun(ctx, { id, row, settings, signal: clientSignal(reply) }, { tokensParam: 'max_new_tokens' });
    return { output: result.text.trim() };
  });
}
