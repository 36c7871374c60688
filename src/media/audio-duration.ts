/**
 * How long a WAV or MP3 file plays, read from its headers without decoding: WAV from the `fmt ` chunk's byte rate
 * and the `data` chunk's size (capped by the bytes actually present), MP3 by walking the MPEG frame headers
 * (each gives its own length, sample rate and samples per frame, so VBR files are measured exactly). A server
 * checks its audio budget against this before decoding, since a small, low-bitrate file can decode to hundreds of
 * megabytes of samples.
 *
 * Hand-written because the maintained parser (`music-metadata`) needs Node 22 in its current major and brings ten
 * dependencies for what is two header formats here; `wavefile` and `mpg123-decoder` only measure by decoding.
 */
import { sniffAudioFormat } from './audio-decode.js';

/** The result: seconds, or why the file could not be measured. */
export type AudioDuration = { seconds: number; format: 'wav' | 'mp3' } | { error: string; format: string };

const ascii = (b: Uint8Array, at: number) => String.fromCharCode(b[at]!, b[at + 1]!, b[at + 2]!, b[at + 3]!);

function wavDuration(b: Uint8Array): AudioDuration {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const little = ascii(b, 0) !== 'RIFX';
  const u32 = (at: number) => dv.getUint32(at, little);
  let byteRate = 0;
  let dataSize = -1;
  let ds64Data = -1;
  for (let at = 12; at + 8 <= b.length; ) {
    const id = ascii(b, at);
    const size = u32(at + 4);
    const body = at + 8;
    if (id === 'fmt ' && body + 12 <= b.length) byteRate = u32(body + 8);
    else if (id === 'ds64' && body + 24 <= b.length) ds64Data = Number(dv.getBigUint64(body + 8, true));
    else if (id === 'data') {
      const declared = size === 0xffffffff && ds64Data >= 0 ? ds64Data : size;
      // A streamed WAV may say 0 or 0xFFFFFFFF; what can be decoded is what is there.
      dataSize = Math.min(declared === 0 || declared === 0xffffffff ? Infinity : declared, b.length - body);
      break;
    }
    at = body + size + (size & 1);
  }
  if (!(byteRate > 0)) return { error: 'the WAV file has no valid "fmt " chunk', format: 'wav' };
  if (dataSize < 0) return { error: 'the WAV file has no "data" chunk', format: 'wav' };
  return { seconds: dataSize / byteRate, format: 'wav' };
}

// Bitrates in kbit/s by [MPEG-1 ? 0 : 1][layer 1..3][index]; sample rates by version.
const BITRATES = [
  [[], [0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448], [0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384], [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320]],
  [[], [0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256], [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160], [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160]],
] as const;
const RATES: Record<number, number[]> = { 3: [44100, 48000, 32000], 2: [22050, 24000, 16000], 0: [11025, 12000, 8000] };

/** One MPEG audio frame header at `at`: its length in bytes and samples, or null when there is none. */
function mpegFrame(b: Uint8Array, at: number): { bytes: number; samples: number; rate: number } | 'free' | null {
  if (at + 4 > b.length || b[at] !== 0xff || (b[at + 1]! & 0xe0) !== 0xe0) return null;
  const version = (b[at + 1]! >> 3) & 3; // 3 MPEG-1, 2 MPEG-2, 0 MPEG-2.5
  const layerBits = (b[at + 1]! >> 1) & 3; // 3 layer I, 2 layer II, 1 layer III
  const brIndex = b[at + 2]! >> 4;
  const srIndex = (b[at + 2]! >> 2) & 3;
  if (version === 1 || layerBits === 0 || brIndex === 15 || srIndex === 3) return null;
  const layer = 4 - layerBits;
  if (brIndex === 0) return 'free';
  const rate = RATES[version]![srIndex]!;
  const kbps = BITRATES[version === 3 ? 0 : 1][layer]![brIndex]!;
  const pad = (b[at + 2]! >> 1) & 1;
  if (layer === 1) return { bytes: (Math.floor((12 * kbps * 1000) / rate) + pad) * 4, samples: 384, rate };
  const perFrame = layer === 3 && version !== 3 ? 576 : 1152;
  return { bytes: Math.floor(((perFrame / 8) * kbps * 1000) / rate) + pad, samples: perFrame, rate };
}

function id3Length(b: Uint8Array): number {
  if (b.length < 10 || b[0] !== 0x49 || b[1] !== 0x44 || b[2] !== 0x33) return 0;
  return 10 + (((b[6]! & 0x7f) << 21) | ((b[7]! & 0x7f) << 14) | ((b[8]! & 0x7f) << 7) | (b[9]! & 0x7f)) + (b[5]! & 0x10 ? 10 : 0);
}

function mp3Duration(b: Uint8Array): AudioDuration {
  let seconds = 0;
  let frames = 0;
  for (let at = id3Length(b); at + 4 <= b.length; ) {
    const f = mpegFrame(b, at);
    if (f === 'free') return { error: 'free-format MP3 (no bitrate in its frame headers) cannot be measured before decoding', format: 'mp3' };
    if (!f) {
      at++; // lost sync: look for the next frame header, as a decoder would
      continue;
    }
    seconds += f.samples / f.rate;
    frames++;
    at += f.bytes;
  }
  if (frames === 0) return { error: 'no MPEG audio frames found', format: 'mp3' };
  return { seconds, format: 'mp3' };
}

/**
 * Duration of a WAV or MP3 file from its headers; `null` for other formats (which the decoders here refuse with
 * their own message).
 */
export function readAudioDuration(bytes: Uint8Array): AudioDuration | null {
  const format = sniffAudioFormat(bytes);
  if (format === 'wav') return wavDuration(bytes.subarray(id3Length(bytes)));
  if (format === 'mp3') return mp3Duration(bytes);
  return null;
}
