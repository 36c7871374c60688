/**
 * JSON schemas for the request bodies, checked by fastify (Ajv) before a handler runs: a body of the wrong
 * shape is answered 400 with the first field at fault (errors.ts). Ajv runs with type coercion off (a string
 * where a number belongs is an error, not silently converted) and stops at the first error, so a hostile body
 * with 10,000 bad items costs one error, not 10,000.
 *
 * Limits that depend on the server's flags (`--max_items`) are built into the schema.
 */

/** Longest list of messages a request may carry. */
export const MAX_MESSAGES = 512;

/** Ajv options for the fastify instance (see the file comment). */
export const AJV_OPTIONS = { coerceTypes: false, removeAdditional: false, useDefaults: true, allErrors: false, allowUnionTypes: true } as const;

const nullable = (type: string | string[]) => ({ type: [...(Array.isArray(type) ? type : [type]), 'null'] });

/** `POST /generate`: the seed's body — `messages`, then one array per modality data key (`images`, …). */
export function generateBodySchema(maxItems: number): Record<string, unknown> {
  return {
    type: 'object',
    required: ['messages'],
    properties: {
      messages: {
        type: 'array',
        minItems: 1,
        maxItems: MAX_MESSAGES,
        items: {
          type: 'object',
          required: ['role', 'content'],
          properties: { role: { type: 'string', minLength: 1, maxLength: 64 }, content: { type: 'string' } },
        },
      },
      id: { type: ['string', 'integer'] },
      // Extensions over the seed, which took these from its command line only.
      max_new_tokens: { type: 'integer', minimum: 1 },
      temperature: { type: 'number', minimum: 0, maximum: 2 },
    },
    // Every other key is a modality's data key: a list of items.
    additionalProperties: { type: ['array', 'null'], maxItems },
  };
}

const contentPart = {
  type: 'object',
  required: ['type'],
  properties: {
    type: { enum: ['text', 'image_url', 'input_audio'] },
    text: { type: 'string' },
    image_url: {
      type: 'object',
      required: ['url'],
      // No minLength: Ajv counts a string's characters one by one (a multi-megabyte data URL, on the thread that
      // serves every client); an empty URL is refused in openai-convert.ts instead.
      properties: { url: { type: 'string' }, detail: { type: 'string' } },
    },
    input_audio: {
      type: 'object',
      required: ['data', 'format'],
      properties: { data: { type: 'string' }, format: { enum: ['wav', 'mp3'] } },
    },
  },
};

/** `POST /v1/chat/completions`: OpenAI's request, the fields we honour; others are accepted and ignored. */
export function chatCompletionBodySchema(maxItems: number): Record<string, unknown> {
  return {
    type: 'object',
    required: ['messages'],
    properties: {
      model: nullable('string'),
      messages: {
        type: 'array',
        minItems: 1,
        maxItems: MAX_MESSAGES,
        items: {
          type: 'object',
          required: ['role'],
          properties: {
            role: { enum: ['system', 'developer', 'user', 'assistant'] },
            // A string, or a list of parts (items only apply to the array form).
            content: { type: ['string', 'array', 'null'], maxItems: maxItems + 64, items: contentPart },
            name: { type: 'string' },
          },
        },
      },
      max_tokens: { ...nullable('integer'), minimum: 1 },
      max_completion_tokens: { ...nullable('integer'), minimum: 1 },
      temperature: { ...nullable('number'), minimum: 0, maximum: 2 },
      top_p: { ...nullable('number'), exclusiveMinimum: 0, maximum: 1 },
      top_k: { ...nullable('integer'), minimum: 0 },
      repetition_penalty: { ...nullable('number'), exclusiveMinimum: 0 },
      stop: { type: ['string', 'array', 'null'], maxItems: 4, items: { type: 'string', minLength: 1 } },
      stream: nullable('boolean'),
      stream_options: { ...nullable('object'), properties: { include_usage: { type: 'boolean' } } },
      n: nullable('integer'),
      seed: nullable('integer'),
      ignore_eos: nullable('boolean'),
      user: nullable('string'),
      frequency_penalty: nullable('number'),
      presence_penalty: nullable('number'),
    },
  };
}
