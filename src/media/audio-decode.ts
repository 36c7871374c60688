/**
 * Encoded audio bytes → float channels, the same in Node and the browser: WAV through `wavefile` (pure JS), MP3
 * (MPEG layer I/II/III) through `mpg123-decoder` (libmpg123 compiled to WASM, embedded in its JS, so it needs no
 * file or URL for the .wasm and bundles as is). Other formats are recognised by their magic bytes so the error
 * can say what was given; in a browser `audio-input-browser.ts` decodes those through WebAudio instead.
 */
import { waveFileClass, type WaveFileLike } from '../io/wavefile.js';

/** Decoded audio: one Float32Array per channel, values in [-1, 1]. */
export interface DecodedAudio {
  channels: Float32Array[];
  sampleRate: number;
}

/** Turns encoded bytes into channels; `label` (`speech_audios[0]`) starts every error message. */
export type AudioDecoder = (bytes: Uint8Array, label: string) => Promise<DecodedAudio>;

/** Formats {@link sniffAudioFormat} recognises. */
export type AudioFormat = 'wav' | 'mp3' | 'flac' | 'ogg' | 'mp4' | 'webm' | 'aac' | 'aiff' | 'unknown';

const ascii = (b: Uint8Array, at: number, n: number) => String.fromCharCode(...b.subarray(at, at + n));

/** Size of an ID3v2 tag at the start of `b` (0 if none): MP3s, and sometimes FLAC/AAC, begin with one. */
function id3Length(b: Uint8Array): number {
  if (b.length < 10 || ascii(b, 0, 3) !== 'ID3') return 0;
  const size = ((b[6]! & 0x7f) << 21) | ((b[7]! & 0x7f) << 14) | ((b[8]! & 0x7f) << 7) | (b[9]! & 0x7f);
  const footer = b[5]! & 0x10 ? 10 : 0;
  return 10 + size + footer;
}

/** The container/codec of `bytes`, from magic numbers only (no decoding). */
export function sniffAudioFormat(bytes: Uint8Array): AudioFormat {
  const tag = id3Length(bytes);
  const b = tag > 0 ? bytes.subarray(tag) : bytes;
  if (b.length >= 12 && ['RIFF', 'RIFX', 'RF64'].includes(ascii(b, 0, 4)) && ascii(b, 8, 4) === 'WAVE') return 'wav';
  if (b.length >= 4 && ascii(b, 0, 4) === 'fLaC') return 'flac';
  if (b.length >= 4 && ascii(b, 0, 4) === 'OggS') return 'ogg';
  if (b.length >= 12 && ascii(b, 0, 4) === 'FORM' && ['AIFF', 'AIFC'].includes(ascii(b, 8, 4))) return 'aiff';
  if (b.length >= 8 && ascii(b, 4, 4) === 'ftyp') return 'mp4';
  if (b.length >= 4 && b[0] === 0x1a && b[1] === 0x45 && b[2] === 0xdf && b[3] === 0xa3) return 'webm';
  if (b.length >= 2 && b[0] === 0xff && (b[1]! & 0xe0) === 0xe0) {
    // Frame sync. MPEG audio has layer bits 01/10/11; ADTS (AAC) has layer 00.
    return (b[1]! & 0x06) === 0 ? 'aac' : 'mp3';
  }
  // An ID3 tag with no recognisable frame right after it is still, in practice, an MP3.
  return tag > 0 ? 'mp3' : 'unknown';
}

/** Full-scale value of integer PCM of `bits` bits (libsndfile / soundfile convention: divide by 2^(bits−1)). */
const intScale = (bits: number) => 2 ** (bits - 1);

/** Decodes a WAV file (integer PCM 8–32 bit, float 32/64, A-law, µ-law, IMA ADPCM). */
export function decodeWav(bytes: Uint8Array, label: string): DecodedAudio {
  const WaveFile = waveFileClass();
  let wav: WaveFileLike;
  try {
    wav = new WaveFile(bytes);
  } catch (e) {
    throw new Error(`${label}: could not parse the WAV file: ${(e as Error).message}`);
  }
  // Companded and ADPCM data are expanded to 16-bit PCM first (wavefile's own converters).
  if (wav.bitDepth === '8a') wav.fromALaw();
  else if (wav.bitDepth === '8m') wav.fromMuLaw();
  else if (wav.bitDepth === '4') wav.fromIMAADPCM();
  const depth = wav.bitDepth;
  const float = depth === '32f' || depth === '64';
  const bits = Number(depth);
  if (!float && !(Number.isInteger(bits) && bits >= 2 && bits <= 32)) {
    throw new Error(`${label}: WAV sample format "${depth}" is not supported (PCM 8–32 bit, float 32/64, A-law, µ-law, IMA ADPCM are)`);
  }
  const raw = wav.getSamples(false, Float64Array);
  const list = Array.isArray(raw) ? raw : [raw];
  const channels = list.map((c) => {
    const out = new Float32Array(c.length);
    if (float) out.set(c);
    else if (bits === 8) for (let i = 0; i < c.length; i++) out[i] = (c[i]! - 128) / 128; // 8-bit WAV is unsigned
    else {
      const s = 1 / intScale(bits);
      for (let i = 0; i < c.length; i++) out[i] = c[i]! * s;
    }
    return out;
  });
  if (channels.length === 0 || channels[0]!.length === 0) throw new Error(`${label}: the WAV file has no samples`);
  return { channels, sampleRate: wav.fmt.sampleRate };
}

/** Decodes MPEG audio (MP3; also MP1/MP2) with libmpg123 in WASM, loaded on first use. */
export async function decodeMp3(bytes: Uint8Array, label: string): Promise<DecodedAudio> {
  const { MPEGDecoder } = await import('mpg123-decoder');
  const decoder = new MPEGDecoder();
  try {
    await decoder.ready;
    const r = decoder.decode(bytes);
    if (r.samplesDecoded === 0 || r.channelData.length === 0) {
      const why = r.errors.length ? `: ${r.errors[0]!.message}` : '';
      throw new Error(`${label}: the MP3 data decoded to no samples${why}`);
    }
    // channelData views the decoder's WASM memory on some paths; copy before free().
    return { channels: r.channelData.map((c) => c.slice(0, r.samplesDecoded)), sampleRate: r.sampleRate };
  } finally {
    decoder.free();
  }
}

/**
 * The default decoder: WAV and MP3. Anything else is an error naming the item and the detected format.
 */
export const decodeAudioBytes: AudioDecoder = async (bytes, label) => {
  const format = sniffAudioFormat(bytes);
  if (format === 'wav') return decodeWav(bytes, label);
  if (format === 'mp3') return decodeMp3(bytes, label);
  const what = format === 'unknown' ? 'an unrecognised format' : `${format.toUpperCase()} audio`;
  throw new Error(
    `${label}: unsupported audio format: ${what} (${bytes.length} bytes; supported: WAV, MP3` +
      `${format === 'unknown' ? '' : `; convert it, or decode it in a browser with webAudioDecoder`})`,
  );
};
