/**
 * The audio counterpart of the shapes dataset: beep sequences whose pitch stands for a colour and whose
 * number of beeps is a count, for the `<speech>` / `speech_audios` modality (Whisper expects 16 kHz mono).
 * Isomorphic: returns samples; Node writes them as WAV.
 */
import { Rng } from '../util/rng.js';
import { COLOUR_NAMES, SHAPE_KINDS, type ColourName, type ShapeKind } from './shapes-raster.js';
import { encodeWav16 as encodeWavFile } from '../io/wav-encode.js';

/** Pitch per colour: C-major triads over two octaves, far enough apart to tell at a glance of a spectrogram. */
export const COLOUR_TONES_HZ: Readonly<Record<ColourName, number>> = {
  red: 261.63,
  orange: 329.63,
  yellow: 392.0,
  green: 523.25,
  blue: 659.25,
  purple: 783.99,
};

export const AUDIO_SAMPLE_RATE = 16000;

const BEEP_S = 0.15;
const GAP_S = 0.1;
const FADE_S = 0.01;

/** `count` beeps of `freq` Hz (150 ms each, 100 ms apart, 10 ms fades against clicks), amplitude 0.5. */
export function synthBeeps(freq: number, count: number, sampleRate = AUDIO_SAMPLE_RATE): Float32Array {
  const beep = Math.round(BEEP_S * sampleRate);
  const gap = Math.round(GAP_S * sampleRate);
  const fade = Math.round(FADE_S * sampleRate);
  const out = new Float32Array(gap + count * (beep + gap));
  for (let b = 0; b < count; b++) {
    const start = gap + b * (beep + gap);
    for (let i = 0; i < beep; i++) {
      const env = Math.min(1, i / fade, (beep - 1 - i) / fade);
      out[start + i] = 0.5 * env * Math.sin((2 * Math.PI * freq * i) / sampleRate);
    }
  }
  return out;
}

export const AUDIO_QUESTION_TYPES = ['audio_colour', 'audio_count', 'audio_shape'] as const;
export type AudioQuestionType = (typeof AUDIO_QUESTION_TYPES)[number];

/** One audio example: tones to synthesize, or a word to speak (`audio_shape`, needs a speech synthesizer). */
export interface AudioExample {
  questionType: AudioQuestionType;
  question: string;
  answer: string;
  tones?: { colour: ColourName; count: number };
  spoken?: ShapeKind;
}

const AUDIO_QUESTIONS: Record<AudioQuestionType, string[]> = {
  audio_colour: ['What colour does the tone in <speech> stand for?', '<speech>\nWhich colour is this tone?'],
  audio_count: ['How many beeps are in <speech>?', '<speech>\nCount the beeps.'],
  audio_shape: ['Which shape is named in <speech>?', '<speech>\nWhat shape was said?'],
};

/**
 * `n` audio examples from `seed`. Without speech synthesis (`spoken: false`) only tone questions are made;
 * with it, a third are spoken shape names.
 */
export function generateAudioExamples(opts: { seed: number; n: number; spoken: boolean }): AudioExample[] {
  const rng = new Rng(opts.seed);
  const types: AudioQuestionType[] = opts.spoken ? ['audio_colour', 'audio_count', 'audio_shape'] : ['audio_colour', 'audio_count'];
  const pick = <T>(a: readonly T[]): T => a[Math.floor(rng.next() * a.length)];
  return Array.from({ length: opts.n }, (_, i) => {
    const questionType = types[i % types.length];
    const question = pick(AUDIO_QUESTIONS[questionType]);
    if (questionType === 'audio_shape') {
      const kind = pick(SHAPE_KINDS);
      return { questionType, question, answer: `A ${kind}.`, spoken: kind };
    }
    const colour = pick(COLOUR_NAMES);
    const count = 1 + Math.floor(rng.next() * 4);
    const answer = questionType === 'audio_colour' ? `${colour[0].toUpperCase()}${colour.slice(1)}.` : `${['One', 'Two', 'Three', 'Four'][count - 1]}.`;
    return { questionType, question, answer, tones: { colour, count } };
  });
}

/** 16-bit PCM mono WAV bytes of `samples` at the dataset's rate (see src/io/wav-encode.ts). */
export function encodeWav16(samples: Float32Array, sampleRate = AUDIO_SAMPLE_RATE): Uint8Array {
  return encodeWavFile(samples, sampleRate);
}
