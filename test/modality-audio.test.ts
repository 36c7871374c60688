import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import * as wavefileModule from 'wavefile';
import { tf } from '../src/tf.js';
import { MemorySource } from '../src/io/source.js';
import { Rng } from '../src/util/rng.js';
import { buildModalities, modalityFromConfig } from '../src/modality/registry.js';
import '../src/modality/audio-whisper/register.js';
import { WhisperAudioModality } from '../src/modality/audio-whisper/audio-whisper.js';
import { loadAudio } from '../src/media/audio-input.js';
import { decodeMp3, decodeWav, sniffAudioFormat } from '../src/media/audio-decode.js';
import { mixToMono, resampleAudio } from '../src/media/audio-resample.js';
import { loadWhisperFeatures } from '../src/modality/audio-whisper/whisper-features.js';
import { makeTinyWhisperEncoder } from '../src/tiny/tiny-whisper.js';
import { initProjector } from '../src/projector/index.js';

// The 30 s end-to-end case runs the encoder over 1500 positions: ~10× faster on wasm than on the cpu backend.
await import('@tensorflow/tfjs-backend-wasm');
if (!(await tf.setBackend('wasm'))) await tf.setBackend('cpu');

type WaveFileT = {
  fromScratch(ch: number, rate: number, depth: string, samples: number[] | number[][] | Float64Array | Float64Array[]): void;
  toBuffer(): Uint8Array;
};
const ns = wavefileModule as unknown as { WaveFile?: new () => WaveFileT; default?: { WaveFile: new () => WaveFileT } };
const WaveFile = (ns.WaveFile ?? ns.default!.WaveFile)!;

/**
 * A 16-bit WAV of `seconds` of a `freq` Hz sine, `amps[c]` on channel c.
 */
function sineWav(freq: number, rate: number, seconds: number, amps: number[], depth = '16'): Uint8Array {
  const n = Math.round(rate * seconds);
  const full = depth === '16' ? 32767 : depth === '8' ? 127 : depth === '24' ? 8388607 : 1;
  const chans = amps.map((a) => {
    const c = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const v = a * Math.sin((2 * Math.PI * freq * i) / rate) * full;
      c[i] = depth === '32f' ? v : depth === '8' ? Math.round(v) + 128 : Math.round(v);
    }
    return c;
  });
  const w = new WaveFile();
  w.fromScratch(amps.length, rate, depth, amps.length === 1 ? chans[0]! : chans);
  return w.toBuffer();
}

/** Amplitude of the `freq` Hz component of `x` (one DFT bin over the middle half, away from the edges). */
function amplitudeAt(x: Float32Array, freq: number, rate: number): number {
  const a = Math.floor(x.length / 4);
  const b = Math.floor((3 * x.length) / 4);
  let s = 0;
  let c = 0;
  for (let i = a; i < b; i++) {
    s += x[i]! * Math.sin((2 * Math.PI * freq * i) / rate);
    c += x[i]! * Math.cos((2 * Math.PI * freq * i) / rate);
  }
  return (2 * Math.hypot(s, c)) / (b - a);
}

/** Frequency estimated from rising zero crossings over the middle half. */
function zeroCrossingFrequency(x: Float32Array, rate: number): number {
  const a = Math.floor(x.length / 4);
  const b = Math.floor((3 * x.length) / 4);
  let first = -1;
  let last = -1;
  let count = 0;
  for (let i = a + 1; i < b; i++) {
    if (x[i - 1]! < 0 && x[i]! >= 0) {
      if (first < 0) first = i;
      else count++;
      last = i;
    }
  }
  return (count * rate) / (last - first);
}

const opts16k = { samplingRate: 16000 };
const mp3 = new Uint8Array(await readFile(new URL('./fixtures/sine-440hz-22050-stereo.mp3', import.meta.url)));

test('WAV 44.1 kHz stereo 440 Hz → 16 kHz mono: length, mixdown (mean) and frequency preserved', async () => {
  const wav = sineWav(440, 44100, 1, [0.5, 0.3]);
  assert.equal(sniffAudioFormat(wav), 'wav');
  const x = await loadAudio(wav, 'speech_audios[0]', undefined, opts16k);
  assert.equal(x.length, 16000);
  assert.ok(Math.abs(zeroCrossingFrequency(x, 16000) - 440) < 0.5, `zero crossings: ${zeroCrossingFrequency(x, 16000)} Hz`);
  assert.ok(Math.abs(amplitudeAt(x, 440, 16000) - 0.4) < 1e-3, `440 Hz amplitude ${amplitudeAt(x, 440, 16000)} (mean of 0.5 and 0.3)`);
  assert.ok(amplitudeAt(x, 1000, 16000) < 1e-3, 'no energy elsewhere');
});

test('WAV sample formats decode to [-1, 1]: 8-bit unsigned, 24-bit, float32', () => {
  for (const depth of ['8', '24', '32f']) {
    const d = decodeWav(sineWav(1000, 8000, 0.25, [0.5], depth), 'a');
    assert.equal(d.sampleRate, 8000);
    assert.equal(d.channels.length, 1);
    const amp = amplitudeAt(d.channels[0]!, 1000, 8000);
    assert.ok(Math.abs(amp - 0.5) < 0.01, `${depth}-bit: amplitude ${amp}`);
  }
});

test('MP3 (committed fixture, made with ffmpeg/libmp3lame) decodes in Node through mpg123 WASM', async () => {
  // ffmpeg -f lavfi -i "sine=frequency=440:sample_rate=22050:duration=1" -ac 2 -codec:a libmp3lame -b:a 32k \
  //   test/fixtures/sine-440hz-22050-stereo.mp3
  assert.equal(sniffAudioFormat(mp3), 'mp3'); // starts with an ID3 tag
  const d = await decodeMp3(mp3, 'a');
  assert.equal(d.sampleRate, 22050);
  assert.equal(d.channels.length, 2);
  assert.equal(d.channels[0]!.length, 22050, 'gapless: encoder delay and padding removed');
  const x = await loadAudio(mp3, 'speech_audios[0]', undefined, opts16k);
  assert.equal(x.length, 16000);
  assert.ok(Math.abs(zeroCrossingFrequency(x, 16000) - 440) < 0.5);
  assert.ok(amplitudeAt(x, 440, 16000) > 20 * amplitudeAt(x, 880, 16000));
});

test('resampler: passband kept, content above the new Nyquist removed, upsampling works', () => {
  const tone = (f: number, rate: number) => Float32Array.from({ length: rate }, (_, i) => Math.sin((2 * Math.PI * f * i) / rate));
  const down = resampleAudio(tone(1000, 44100), 44100, 16000);
  assert.ok(Math.abs(amplitudeAt(down, 1000, 16000) - 1) < 1e-4);
  // 10 kHz would alias to 6 kHz at 16 kHz: it must be gone (< -80 dB), not folded back.
  const alias = resampleAudio(tone(10000, 48000), 48000, 16000);
  const rms = Math.sqrt(alias.slice(4000, 12000).reduce((s, v) => s + v * v, 0) / 8000);
  assert.ok(rms < 1e-4, `alias rms ${rms}`);
  const up = resampleAudio(tone(1000, 8000), 8000, 16000);
  assert.equal(up.length, 16000);
  assert.ok(Math.abs(amplitudeAt(up, 1000, 16000) - 1) < 1e-4);
  const same = new Float32Array([1, 2]);
  assert.equal(resampleAudio(same, 16000, 16000), same);
  assert.deepEqual(Array.from(mixToMono([new Float32Array([1, 3]), new Float32Array([3, 5])])), [2, 4]);
});

test('audio item forms: {array, sampling_rate} (1-D, [frames][channels], channel arrays), bytes, data URL, base64, paths', async () => {
  const rate = 16000;
  const mono = Float32Array.from({ length: 1600 }, (_, i) => 0.5 * Math.sin((2 * Math.PI * 500 * i) / rate));
  const same = (x: Float32Array) => assert.ok(x.length === 1600 && Math.abs(amplitudeAt(x, 500, rate) - 0.5) < 2e-3);
  same(await loadAudio({ array: mono, sampling_rate: rate }, 'a', undefined, opts16k));
  same(await loadAudio({ array: Array.from(mono), sampling_rate: rate }, 'a', undefined, opts16k));
  same(await loadAudio({ array: Array.from(mono, (v) => [v * 1.5, v * 0.5]), sampling_rate: rate }, 'a', undefined, opts16k));
  same(await loadAudio({ array: [mono, mono], sampling_rate: rate }, 'a', undefined, opts16k));
  const wav = sineWav(500, rate, 0.1, [0.5]);
  const b64 = btoa(String.fromCharCode(...wav));
  same(await loadAudio(wav, 'a', undefined, opts16k));
  same(await loadAudio(wav.slice().buffer, 'a', undefined, opts16k));
  same(await loadAudio(new Blob([wav.slice().buffer]), 'a', undefined, opts16k));
  same(await loadAudio(`data:audio/wav;base64,${b64}`, 'a', undefined, opts16k));
  same(await loadAudio(b64, 'a', undefined, opts16k));
  const ctx = { loadBytes: async (ref: string) => (ref === 'clips/a.wav' ? wav : Promise.reject(new Error('nope'))) };
  same(await loadAudio('clips/a.wav', 'a', ctx, opts16k));
  same(await loadAudio({ path: 'clips/a.wav' }, 'a', ctx, opts16k));
  await assert.rejects(loadAudio('clips/a.wav', 'speech_audios[1]', undefined, opts16k), /speech_audios\[1\]: "clips\/a.wav" refers to a file, but no file loader/);
  await assert.rejects(loadAudio({ array: [0.1], sampling_rate: 44.1 }, 'x[0]', undefined, opts16k), /x\[0\]: sampling_rate must be a positive integer/);
  await assert.rejects(loadAudio(42, 'x[0]', undefined, opts16k), /x\[0\]: is number; an audio item must be/);
  // The seed's {dataset_args, idx} reference: a clear error that says how to convert it.
  await assert.rejects(loadAudio({ dataset_args: { path: 'librispeech_asr', split: 'train' }, idx: 3 }, 'row "s": speech_audios[0]', undefined, opts16k),
    /row "s": speech_audios\[0\]: \{dataset_args, idx\} points into a Hugging Face dataset, which is not loaded here; convert it .* \{"array": \[\.\.\.\], "sampling_rate": N\}/);
});

test('unsupported formats: the error names the item and the detected format', async () => {
  const flac = new Uint8Array([0x66, 0x4c, 0x61, 0x43, 0, 0, 0, 34, 1, 2, 3]);
  await assert.rejects(loadAudio(flac, 'row "r1": speech_audios[0]', undefined, opts16k), /row "r1": speech_audios\[0\]: unsupported audio format: FLAC audio \(11 bytes; supported: WAV, MP3/);
  const ogg = new TextEncoder().encode('OggS\0\x02rest-of-page');
  await assert.rejects(loadAudio(ogg, 'speech_audios[2]', undefined, opts16k), /speech_audios\[2\]: unsupported audio format: OGG audio/);
  await assert.rejects(loadAudio(new Uint8Array(64).fill(7), 'speech_audios[3]', undefined, opts16k), /speech_audios\[3\]: unsupported audio format: an unrecognised format/);
  assert.equal(sniffAudioFormat(new Uint8Array([0xff, 0xf1, 0x50, 0x80])), 'aac');
  assert.equal(sniffAudioFormat(new Uint8Array([0, 0, 0, 0x20, 0x66, 0x74, 0x79, 0x70])), 'mp4');
  const broken = new TextEncoder().encode('RIFF\x10\0\0\0WAVEjunkjunkjunk');
  await assert.rejects(loadAudio(broken, 'speech_audios[4]', undefined, opts16k), /speech_audios\[4\]: could not parse the WAV file/);
});

test('missing preprocessor_config.json: a clear error naming the file', async () => {
  const files = makeTinyWhisperEncoder({ maxSourcePositions: 8 });
  files.delete('preprocessor_config.json');
  const src = new MemorySource(files, '/models/whisper-tiny');
  await assert.rejects(loadWhisperFeatures(src), /missing \/models\/whisper-tiny\/preprocessor_config.json: the Whisper feature extractor/);
  await assert.rejects(WhisperAudioModality.create({ encoder: src }), /missing \/models\/whisper-tiny\/preprocessor_config.json/);
});

test('audio_whisper end to end: seed names, 30 s window, [n, 10, lmHidden] through its projector, config round trip', async () => {
  // The encoder ships inside the checkpoint folder, as `encoder: 'whisper'` in config.json would say.
  const files = new Map<string, Uint8Array>();
  for (const [name, bytes] of makeTinyWhisperEncoder({ seed: 5 })) files.set(`whisper/${name}`, bytes);
  const ctx = { source: new MemorySource(files, '/ckpt'), options: { encoder: 'whisper' } };
  const [m] = await buildModalities('audio_whisper', ctx);
  assert.ok(m instanceof WhisperAudioModality);
  assert.deepEqual([m.name, m.token, m.dataKey, m.tokenWidth], ['audio_whisper', '<speech>', 'speech_audios', 10]);

  const noise = new Rng(9);
  const rows = [
    await m.preprocess([sineWav(440, 44100, 0.5, [0.5, 0.2]), mp3], { rowId: 'r0' }),
    await m.preprocess([], { rowId: 'r1' }),
    await m.preprocess([{ array: Float32Array.from({ length: 8000 }, () => noise.normal() * 0.1), sampling_rate: 8000 }]),
  ];
  assert.deepEqual([rows[0]!.count, rows[0]!.mels, rows[0]!.frames], [2, 80, 3000]);
  const lmHidden = 48;
  const projector = initProjector(m.projectorSpec, lmHidden, () => noise.next());
  const before = tf.memory().numTensors;
  const feats = await m.encode(rows);
  assert.deepEqual(feats.map((t) => t.shape), [[2, 1, 32], [0, 1, 32], [1, 1, 32]]);
  const tokens = projector.apply(feats[0]!);
  assert.deepEqual(tokens.shape, [2, 10, lmHidden]);
  const names = [...projector.parameters().keys()];
  assert.equal(names.length, 10 * 4);
  assert.ok(names.includes('mlps.0.0.weight') && names.includes('mlps.9.2.bias'));
  assert.deepEqual(projector.parameters().get('mlps.3.0.weight')!.shape, [lmHidden, 32]);
  const values = feats[0]!.dataSync();
  assert.ok(values.every(Number.isFinite) && values[0] !== values[32], 'two different clips, two different vectors');
  tf.dispose([...feats, tokens]);
  assert.equal(tf.memory().numTensors, before);
  projector.dispose();

  const config = m.toConfig();
  assert.deepEqual(config, {
    kind: 'audio_whisper', name: 'audio_whisper', token: '<speech>', dataKey: 'speech_audios',
    encoder: 'whisper', numTokens: 10, projectorLayers: 2, pooling: 'decoder',
  });
  const again = await modalityFromConfig(config, { source: ctx.source });
  assert.deepEqual(again.toConfig(), config);
  m.dispose?.();
  again.dispose?.();
});

test('audio_whisper: "mean" pooling works with an encoder-only checkpoint; "decoder" explains what is missing', async () => {
  const src = new MemorySource(makeTinyWhisperEncoder({ layout: 'encoder-only', maxSourcePositions: 50 }), '/enc');
  await assert.rejects(WhisperAudioModality.create({ encoder: src }), /no Whisper decoder weights.*pooling "mean"/);
  const [m] = await buildModalities('audio_whisper', { open: () => src, options: { encoder: '/enc', pooling: 'mean', numTokens: 3 } });
  assert.ok(m instanceof WhisperAudioModality);
  assert.equal(m.pooling, 'mean');
  const row = await m.preprocess([{ array: new Float32Array(16000).fill(0.1), sampling_rate: 16000 }]);
  assert.equal(row.frames, 100, 'a 1 s window from the tiny preprocessor_config.json');
  const [f] = await m.encode([row]);
  assert.deepEqual(f!.shape, [1, 1, 32]);
  const p = initProjector(m.projectorSpec, 16, () => 0.5);
  assert.deepEqual(p.apply(f!).shape, [1, 3, 16]);
  await assert.rejects(buildModalities('audio_whisper', { open: (w) => { throw new Error(`opened ${w}`); } }), /opened openai\/whisper-small/, "the seed's default id");
  m.dispose();
});
