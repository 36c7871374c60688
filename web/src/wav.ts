/**
 * 16-bit PCM WAV encoding. Microphone recordings are turned into WAV because every audio modality decodes WAV
 * in every environment (the library's default decoder handles WAV and MP3 without WebAudio), whereas the
 * MediaRecorder's own format (WebM/Opus in Chromium, MP4/AAC in Safari) needs the browser's decoder.
 */

import { encodeWav16 } from '../../src/io/wav-encode.js';

/** Encodes mono float samples in [-1, 1] (clipped) as a 16-bit PCM WAV file. */
export function encodeWav(samples: Float32Array, sampleRate: number): Uint8Array {
  return encodeWav16(samples, sampleRate);
}
