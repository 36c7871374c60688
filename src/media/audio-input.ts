/**
 * Turning whatever a user passes as an audio item into mono samples at the rate an encoder wants, the same way
 * in Node and in the browser. Mirrors the seed's `load_audio`: `{array, sampling_rate}` objects, or files
 * (paths, URLs) — plus encoded bytes, data URLs and bare base64 as our HTTP API accepts them. Stereo is mixed
 * down by averaging the channels and the result is resampled (band-limited) to the target rate.
 */
import type { PreprocessContext } from '../modality/modality.js';
import { asBytes, loadItemBytes } from './item-bytes.js';
import { decodeAudioBytes, sniffAudioFormat, type AudioDecoder } from './audio-decode.js';
import { mixToMono, resampleAudio, type ResampleOptions } from './audio-resample.js';

/**
 * What an audio item may be:
 * - `{array, sampling_rate}` (the seed's and HF datasets' form): `array` is 1-D samples (a typed array or
 *   numbers), or 2-D `[frames][channels]` number arrays as numpy/soundfile lay them out, or a list of
 *   Float32Arrays, one per channel (WebAudio's layout);
 * - an `AudioBuffer` (or anything with `numberOfChannels`, `sampleRate`, `getChannelData`);
 * - encoded bytes (`Uint8Array`, `ArrayBuffer`, `Blob`/`File`);
 * - a string: `data:` URL, bare base64 of a WAV/MP3 file, an http(s) URL or a path (read with `ctx.loadBytes`);
 * - `{path}` or `{url}` (the seed's `{"path": …}` form).
 */
export type AudioInput =
  | { array: ArrayLike<number> | number[][] | Float32Array[]; sampling_rate: number }
  | { numberOfChannels: number; sampleRate: number; getChannelData(channel: number): Float32Array }
  | Uint8Array
  | ArrayBuffer
  | Blob
  | string
  | { path: string }
  | { url: string };

/** How to load audio items. */
export interface AudioLoadOptions {
  /** Rate the encoder needs (Whisper: 16000). */
  samplingRate: number;
  /** Decoder for encoded bytes; default WAV + MP3 ({@link decodeAudioBytes}). Browsers may pass `webAudioDecoder`. */
  decode?: AudioDecoder;
  resample?: ResampleOptions;
}

function base64Bytes(b64: string): Uint8Array {
  const bin = atob(b64.replace(/\s+/g, ''));
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return bytes;
}

/**
 * The bytes of a `data:` URL. (Kept here rather than imported from image-input.ts, which would pull
 * transformers.js into audio-only bundles.)
 */
function dataUrlBytes(url: string, label: string): Uint8Array {
  const comma = url.indexOf(',');
  if (comma < 0) throw new Error(`${label}: malformed data URL (expected "data:[<type>][;base64],<data>")`);
  const meta = url.slice(5, comma);
  const payload = url.slice(comma + 1);
  if (!/;base64$/i.test(meta)) return new TextEncoder().encode(decodeURIComponent(payload));
  try {
    return base64Bytes(payload);
  } catch {
    throw new Error(`${label}: the data URL has invalid base64`);
  }
}

/** A base64 payload with no `data:` prefix, recognised only if it decodes to a known audio file. */
function bareBase64(s: string): Uint8Array | null {
  const t = s.replace(/\s+/g, '');
  if (t.length < 16 || t.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(t)) return null;
  let bytes: Uint8Array;
  try {
    bytes = base64Bytes(t);
  } catch {
    return null;
  }
  return sniffAudioFormat(bytes) === 'unknown' ? null : bytes;
}

function checkRate(v: unknown, label: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
    throw new Error(`${label}: sampling_rate must be a positive integer (got ${JSON.stringify(v)})`);
  }
  return v;
}

/** Channels from the `array` of a `{array, sampling_rate}` item. */
function arrayChannels(array: unknown, label: string): Float32Array[] {
  if (ArrayBuffer.isView(array) && !(array instanceof DataView)) return [Float32Array.from(array as unknown as ArrayLike<number>)];
  if (!Array.isArray(array)) throw new Error(`${label}: "array" must be an array of samples`);
  if (array.length > 0 && ArrayBuffer.isView(array[0])) {
    return array.map((c) => Float32Array.from(c as ArrayLike<number>));
  }
  if (array.length > 0 && Array.isArray(array[0])) {
    // [frames][channels], as numpy/soundfile (and so the seed's load_audio) lay out multichannel audio.
    const nch = (array[0] as unknown[]).length;
    const chans = Array.from({ length: nch }, () => new Float32Array(array.length));
    array.forEach((frame, i) => {
      if (!Array.isArray(frame) || frame.length !== nch) throw new Error(`${label}: frame ${i} does not have ${nch} channels`);
      frame.forEach((v, c) => (chans[c]![i] = v as number));
    });
    return chans;
  }
  return [Float32Array.from(array as number[])];
}

/** Decodes/reads an item into channels and their rate. */
async function toChannels(value: unknown, label: string, ctx: PreprocessContext | undefined, decode: AudioDecoder): Promise<{ channels: Float32Array[]; rate: number }> {
  let bytes = asBytes(value);
  if (typeof value === 'string') {
    bytes = value.startsWith('data:') ? dataUrlBytes(value, label) : (bareBase64(value) ?? (await loadItemBytes(value, label, ctx)));
  } else if (typeof Blob === 'function' && value instanceof Blob) {
    bytes = new Uint8Array(await value.arrayBuffer());
  } else if (!bytes && typeof value === 'object' && value !== null) {
    const o = value as Record<string, unknown>;
    if ('array' in o) return { channels: arrayChannels(o.array, label), rate: checkRate(o.sampling_rate, label) };
    if ('dataset_args' in o) {
      // The seed's lazy reference into an HF dataset (`load_dataset(**dataset_args)[idx]["audio"]`); there is no
      // `datasets` library here to resolve it, so the row must carry the audio itself.
      throw new Error(
        `${label}: {dataset_args, idx} points into a Hugging Face dataset, which is not loaded here; convert it once in ` +
          'Python to {"array": [...], "sampling_rate": N} (ds[idx]["audio"]) or to a WAV file path: ' +
          "`sf.write(f'{idx}.wav', a['array'], a['sampling_rate'])`",
      );
    }
    if (typeof o.getChannelData === 'function' && typeof o.numberOfChannels === 'number') {
      const get = o.getChannelData as (c: number) => Float32Array;
      const channels = Array.from({ length: o.numberOfChannels }, (_, c) => Float32Array.from(get.call(o, c)));
      return { channels, rate: checkRate(o.sampleRate, label) };
    }
    const ref = typeof o.path === 'string' ? o.path : typeof o.url === 'string' ? o.url : undefined;
    if (ref !== undefined) bytes = await loadItemBytes(ref, label, ctx);
  }
  if (!bytes) {
    const kind = value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value;
    throw new Error(
      `${label}: is ${kind}; an audio item must be {array, sampling_rate}, a path or URL, a data URL or base64, ` +
        'WAV/MP3 bytes, a Blob or an AudioBuffer',
    );
  }
  const decoded = await decode(bytes, label);
  return { channels: decoded.channels, rate: decoded.sampleRate };
}

/**
 * Loads one audio item as mono Float32 samples at `options.samplingRate`. `label` (e.g. `row "7":
 * speech_audios[0]`, see `itemLabel`) starts every error: unsupported formats name the detected format.
 */
export async function loadAudio(value: unknown, label: string, ctx: PreprocessContext | undefined, options: AudioLoadOptions): Promise<Float32Array> {
  const { channels, rate } = await toChannels(value, label, ctx, options.decode ?? decodeAudioBytes);
  if (channels.length === 0) throw new Error(`${label}: the audio has no channels`);
  const mono = mixToMono(channels);
  if (mono.length === 0) throw new Error(`${label}: the audio has no samples`);
  for (let i = 0; i < mono.length; i++) {
    if (!Number.isFinite(mono[i]!)) throw new Error(`${label}: sample ${i} is not a finite number`);
  }
  return resampleAudio(mono, rate, options.samplingRate, options.resample);
}
