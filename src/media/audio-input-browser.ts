/**
 * Browser-only audio decoding through WebAudio: every format the browser can play (WAV, MP3, AAC/M4A, Ogg
 * Vorbis/Opus, FLAC, WebM), decoded and resampled in one step by `decodeAudioData` on an `OfflineAudioContext`
 * running at the target rate (browsers resample decoded audio to their context's rate with their own
 * band-limited resampler). Pass it as the `decode` option of an audio modality:
 *
 *   WhisperAudioModality.create({ encoder: url, decode: webAudioDecoder(16000) })
 *
 * Not used in Node (no WebAudio there); the default WAV/MP3 decoder covers Node.
 */
import { decodeAudioBytes, sniffAudioFormat, type AudioDecoder, type DecodedAudio } from './audio-decode.js';

type OfflineContextClass = new (channels: number, length: number, sampleRate: number) => OfflineAudioContext;

function offlineContextClass(): OfflineContextClass | null {
  const g = globalThis as unknown as { OfflineAudioContext?: OfflineContextClass; webkitOfflineAudioContext?: OfflineContextClass };
  return g.OfflineAudioContext ?? g.webkitOfflineAudioContext ?? null;
}

/**
 * A decoder that uses WebAudio, returning audio already at `sampleRate` Hz (so the later resampling step is a
 * no-op). Where WebAudio is missing or refuses the data, WAV and MP3 still decode with the default decoder.
 */
export function webAudioDecoder(sampleRate = 16000): AudioDecoder {
  return async (bytes: Uint8Array, label: string): Promise<DecodedAudio> => {
    const Context = offlineContextClass();
    const format = sniffAudioFormat(bytes);
    const fallback = format === 'wav' || format === 'mp3';
    if (!Context) {
      if (fallback) return decodeAudioBytes(bytes, label);
      throw new Error(`${label}: ${format} audio needs WebAudio to decode, which is not available here (WAV and MP3 work everywhere)`);
    }
    // The length only matters for rendering; decodeAudioData just uses the context's rate.
    const ctx = new Context(1, 1, sampleRate);
    let buffer: AudioBuffer;
    try {
      // decodeAudioData detaches the buffer it is given: hand it a copy, not the caller's bytes.
      buffer = await ctx.decodeAudioData(bytes.slice().buffer as ArrayBuffer);
    } catch (e) {
      if (fallback) return decodeAudioBytes(bytes, label);
      const what = format === 'unknown' ? 'an unrecognised format' : `${format} audio`;
      throw new Error(`${label}: the browser could not decode ${what} (${bytes.length} bytes): ${(e as Error).message}`);
    }
    const channels = Array.from({ length: buffer.numberOfChannels }, (_, c) => buffer.getChannelData(c).slice());
    return { channels, sampleRate: buffer.sampleRate };
  };
}
