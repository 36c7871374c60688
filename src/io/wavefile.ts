import * as wavefileModule from 'wavefile';

/** The parts of wavefile's `WaveFile` this project uses (decode and encode). */
export interface WaveFileLike {
  fmt: { numChannels: number; sampleRate: number };
  bitDepth: string;
  getSamples(interleaved?: boolean, OutputObject?: Function): Float64Array | Float64Array[];
  fromALaw(): void;
  fromMuLaw(): void;
  fromIMAADPCM(): void;
  fromScratch(numChannels: number, sampleRate: number, bitDepth: string, samples: ArrayLike<number>): void;
  toBuffer(): Uint8Array;
}
export type WaveFileClass = new (bytes?: Uint8Array) => WaveFileLike;

/**
 * wavefile is UMD: Node's ESM loader sees only a default export holding `{ WaveFile }`, while bundlers read
 * its ES module (`module` field) with a named export. Accept both.
 */
export function waveFileClass(): WaveFileClass {
  const ns = wavefileModule as unknown as { WaveFile?: WaveFileClass; default?: { WaveFile?: WaveFileClass } };
  const cls = ns.WaveFile ?? ns.default?.WaveFile;
  if (!cls) throw new Error('the wavefile package did not provide WaveFile');
  return cls;
}
