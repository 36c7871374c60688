/**
 * Registers the seed's document builders and the `document_gte` kind:
 *
 * - `document_gte`: `[DocumentGTEModality]` with 4 tokens per document;
 * - `document_gte_x16`: the same with 32 tokens (the seed's `num_tokens_output=32`, despite the name).
 *
 * Options (builder options or the config.json entry): `encoder` — a folder or URL with a GTE/BERT checkpoint
 * (`config.json`, weights, `tokenizer.json`) or a Hugging Face id, default the seed's `thenlper/gte-large`; relative
 * paths are looked up in the checkpoint first (see `openEncoderSource`). Also `numTokens`, `projectorLayers`, `maxLength`,
 * `longDocuments` ('mean' | 'truncate'), `batchSize`, `name`, `token`, `dataKey`.
 */
import { BertEncoder } from '../../encoders/bert.js';
import { loadTokenizer } from '../../io/tokenizer.js';
import { DocumentGTEModality, type LongDocumentMode } from './document-gte.js';
import { openEncoderSource } from '../encoder-location.js';
import { choiceOption, intOption, optionalString, type Options } from '../option-readers.js';
import { encoderOption } from '../encoder-location.js';
import { registerModalityBuilder, registerModalityKind, type BuildContext } from '../registry.js';

/** Builds a `DocumentGTEModality` from options, loading the encoder and its tokenizer. */
export async function documentGteFrom(o: Options, ctx: BuildContext, defaultTokens = 4): Promise<DocumentGTEModality> {
  const owner = `modality ${JSON.stringify(o.name ?? 'document_gte')}`;
  const where = encoderOption(o, 'document_gte');
  const source = await openEncoderSource(where, ctx, 'config.json');
  const [encoder, tokenizer] = await Promise.all([BertEncoder.load(source), loadTokenizer(source)]);
  const maxLength = o.maxLength === undefined ? undefined : intOption(o, 'maxLength', owner);
  return new DocumentGTEModality({
    encoder,
    tokenizer,
    encoderLocation: where,
    numTokens: intOption(o, 'numTokens', owner, defaultTokens),
    projectorLayers: intOption(o, 'projectorLayers', owner, 2),
    maxLength,
    longDocuments: choiceOption<LongDocumentMode>(o, 'longDocuments', owner, ['mean', 'truncate'], 'mean'),
    batchSize: intOption(o, 'batchSize', owner, 8),
    name: optionalString(o, 'name', owner),
    token: optionalString(o, 'token', owner),
    dataKey: optionalString(o, 'dataKey', owner),
  });
}

registerModalityKind('document_gte', async (config, ctx) => documentGteFrom(config, ctx));
registerModalityBuilder('document_gte', async (ctx) => [await documentGteFrom(ctx.options ?? {}, ctx, 4)]);
registerModalityBuilder('document_gte_x16', async (ctx) => [await documentGteFrom(ctx.options ?? {}, ctx, 32)]);
