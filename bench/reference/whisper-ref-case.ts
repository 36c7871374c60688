/**
 * The Whisper reference case: a tiny checkpoint, encoder inputs and a waveform, all deterministic from seeds.
 * `test/encoders-whisper.test.ts` rebuilds them from here and compares with `test/fixtures/whisper-encoder-ref.json`,
 * which `whisper_encoder_ref.py` computes from the files this script writes:
 *
 *   node --import tsx bench/reference/whisper-ref-case.ts /tmp/wref
 *   python3 bench/reference/whisper_encoder_ref.py /tmp/wref/model /tmp/wref/input.json \
 *     test/fixtures/whisper-encoder-ref.json
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import { Rng } from '../../src/util/rng.js';
import { makeTinyWhisperEncoder, tinyWhisperPreprocessorConfigJSON, type TinyWhisperOptions } from '../../src/tiny/tiny-whisper.js';

/**
 * 4 heads (head_dim 8) so head splitting is exercised; 8 positions keep it small. Frames 16 is the full
 * window; 11 checks the odd-length edge of the stride-2 convolution.
 */
export const WHISPER_REF_CASE = {
  model: { dModel: 32, layers: 2, heads: 4, ffn: 64, numMelBins: 80, maxSourcePositions: 8, seed: 11 } satisfies TinyWhisperOptions,
  inputs: [
    { seed: 1, shape: [2, 80, 16] },
    { seed: 2, shape: [1, 80, 11] },
  ],
  /** Samples of the log-mel waveform (shorter than the 2560-sample window, so padding is exercised). */
  waveformLength: 2000,
};

/** Encoder input features: standard normal float32 values, one tensor per case input. */
export function whisperRefInputs(): { shape: number[]; data: Float32Array }[] {
  return WHISPER_REF_CASE.inputs.map(({ seed, shape }) => {
    const rng = new Rng(seed);
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    for (let i = 0; i < data.length; i++) data[i] = rng.normal();
    return { shape, data };
  });
}

/** Two tones (440 Hz, 3.1 kHz) plus a little noise at 16 kHz, as float32. */
export function whisperRefWaveform(): Float32Array {
  const rng = new Rng(3);
  const x = new Float32Array(WHISPER_REF_CASE.waveformLength);
  for (let i = 0; i < x.length; i++) {
    const t = i / 16000;
    x[i] = 0.5 * Math.sin(2 * Math.PI * 440 * t) + 0.25 * Math.sin(2 * Math.PI * 3100 * t + 1) + 0.02 * rng.normal();
  }
  return x;
}

async function main(dir: string): Promise<void> {
  await mkdir(`${dir}/model`, { recursive: true });
  for (const [name, bytes] of makeTinyWhisperEncoder(WHISPER_REF_CASE.model)) await writeFile(`${dir}/model/${name}`, bytes);
  const input = {
    case: WHISPER_REF_CASE,
    inputs: whisperRefInputs().map(({ shape, data }) => ({ shape, data: Array.from(data) })),
    waveform: Array.from(whisperRefWaveform()),
    preprocessor_config: tinyWhisperPreprocessorConfigJSON(WHISPER_REF_CASE.model),
  };
  await writeFile(`${dir}/input.json`, JSON.stringify(input));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const dir = process.argv[2];
  if (!dir) throw new Error('usage: whisper-ref-case.ts OUT_DIR');
  await main(dir);
}
