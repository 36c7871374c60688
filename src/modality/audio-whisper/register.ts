/**
 * Registers the Whisper audio modality with the registry: builder `audio_whisper` (the seed's: `<speech>`,
 * `speech_audios`, 10 tokens) and the kind that rebuilds it from a checkpoint's config.json. Importing this
 * file is enough.
 *
 * The encoder location comes from `ctx.options.encoder` (a folder inside the checkpoint, another folder, or a
 * URL, or a Hugging Face id); the default is the seed's `openai/whisper-small`.
 */
import { registerModalityBuilder, registerModalityKind, type BuildContext } from '../registry.js';
import { choiceOption, intOption, optionalString, type Options } from '../option-readers.js';
import { WhisperAudioModality } from './audio-whisper.js';
import { encoderOption } from '../encoder-location.js';

function whisperFrom(o: Options, ctx: BuildContext): Promise<WhisperAudioModality> {
  const b = 'audio_whisper';
  const encoder = encoderOption(o, b);
  return WhisperAudioModality.create(
    {
      encoder,
      numTokens: intOption(o, 'numTokens', b, 10),
      projectorLayers: intOption(o, 'projectorLayers', b, 2),
      pooling: choiceOption(o, 'pooling', b, ['decoder', 'mean'] as const, 'decoder'),
      batchSize: intOption(o, 'batchSize', b, 4),
      name: optionalString(o, 'name', b),
      token: optionalString(o, 'token', b),
      dataKey: optionalString(o, 'dataKey', b),
    },
    ctx,
  );
}

// A saved entry carries every option, so the kind rebuilds from it alone (relative encoder paths resolve
// against the checkpoint through ctx.source).
registerModalityKind('audio_whisper', (config, ctx) => whisperFrom(config, ctx));
registerModalityBuilder('audio_whisper', async (ctx) => [await whisperFrom(ctx.options ?? {}, ctx)]);
