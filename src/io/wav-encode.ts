import { waveFileClass } from './wavefile.js';

/**
 * 16-bit PCM mono WAV bytes of `samples` (floats in [-1, 1], clipped), via `wavefile` — the same package that
 * decodes WAV for the audio modalities. Used for synthesized dataset audio and browser microphone recordings
 * (WAV decodes everywhere without WebAudio).
 */
export function encodeWav16(samples: Float32Array, sampleRate: number): Uint8Array {
  const pcm = new Int16Array(samples.length);
  for (let i = 0; i < samples.length; i++) pcm[i] = Math.round(Math.max(-1, Math.min(1, samples[i])) * 32767);
  const wav = new (waveFileClass())();
  wav.fromScratch(1, sampleRate, '16', pcm);
  return wav.toBuffer();
}
