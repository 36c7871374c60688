/**
 * Shared fixtures for the server tests: a tiny random multimodal checkpoint (CLIP vision + Whisper audio, real
 * HF formats, built in memory), small PNG and WAV files, and a server started in-process on 127.0.0.1:0.
 */
import { PNG } from 'pngjs';
import '@tensorflow/tfjs-backend-wasm';
import { tf } from '../../src/tf.js';
import { installKernelFallbacks } from '../../src/backend-fallbacks.js';
import { MemorySource } from '../../src/io/source.js';
import { loadLMM } from '../../src/lmm/load.js';
import type { LMM } from '../../src/lmm/lmm.js';
import { makeTinyMultimodalFiles } from '../../src/tiny/tiny-multimodal.js';
import { createServer, type ServerHandle, type ServerOptions } from '../../node/server/app.js';

await tf.setBackend('wasm');
installKernelFallbacks('wasm');

let model: Promise<LMM> | null = null;

/** The tiny LMM every server test shares (built once per process). */
export function tinyServingModel(): Promise<LMM> {
  model ??= (async () => {
    const files = await makeTinyMultimodalFiles({ arch: 'llama', hiddenSize: 32, intermediateSize: 64, numHiddenLayers: 2, seed: 1, modalities: ['vision_clip', 'audio_whisper'] });
    const enc = new TextEncoder();
    return loadLMM(new MemorySource(new Map([...files].map(([k, v]) => [k, typeof v === 'string' ? enc.encode(v) : v]))));
  })();
  return model;
}

/** A w×h PNG with a simple colour pattern (different colours give different image features). */
export function patternPng(rgb: [number, number, number], w = 8, h = 8): Uint8Array {
  const png = new PNG({ width: w, height: h });
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) png.data.set([(rgb[0] + x * 16) % 256, (rgb[1] + y * 16) % 256, rgb[2], 255], (y * w + x) * 4);
  return new Uint8Array(PNG.sync.write(png));
}

/** `data:image/png;base64,…` of {@link patternPng}. */
export function pngDataUrl(rgb: [number, number, number]): string {
  return `data:image/png;base64,${Buffer.from(patternPng(rgb)).toString('base64')}`;
}

/** A mono 16-bit PCM WAV of a sine tone. */
export function toneWav(freq = 440, seconds = 0.25, rate = 16000): Uint8Array {
  const n = Math.round(seconds * rate);
  const buf = Buffer.alloc(44 + n * 2);
  buf.write('RIFF', 0);
  buf.writeUInt32LE(36 + n * 2, 4);
  buf.write('WAVEfmt ', 8);
  buf.writeUInt32LE(16, 16);
  buf.writeUInt16LE(1, 20);
  buf.writeUInt16LE(1, 22);
  buf.writeUInt32LE(rate, 24);
  buf.writeUInt32LE(rate * 2, 28);
  buf.writeUInt16LE(2, 32);
  buf.writeUInt16LE(16, 34);
  buf.write('data', 36);
  buf.writeUInt32LE(n * 2, 40);
  for (let i = 0; i < n; i++) buf.writeInt16LE(Math.round(Math.sin((2 * Math.PI * freq * i) / rate) * 12000), 44 + i * 2);
  return new Uint8Array(buf);
}

/**
 * Waits until the server's model is idle. A response goes out as soon as its own answer is complete, a
 * moment before its batch has released the KV cache, so tensor counts are compared only when idle.
 */
export async function whenIdle(url: string): Promise<void> {
  for (;;) {
    const h = (await (await fetch(`${url}/health`)).json()) as { running: number; queued: number };
    if (h.running === 0 && h.queued === 0) return;
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A running test server. */
export interface TestServer {
  url: string;
  handle: ServerHandle;
  /** POST JSON (or a raw string) and parse the JSON answer. */
  post(path: string, body: unknown, headers?: Record<string, string>): Promise<{ status: number; json: any }>;
  close(): Promise<void>;
}

/** Starts a server on 127.0.0.1:0 around the tiny model (greedy by default, for reproducible answers). */
export async function startTestServer(opts: Partial<ServerOptions> = {}): Promise<TestServer> {
  const handle = await createServer({ lmm: await tinyServingModel(), temperature: 0, maxNewTokens: 8, ...opts });
  const url = await handle.listen({ host: '127.0.0.1', port: 0 });
  return {
    url,
    handle,
    async post(path, body, headers = {}) {
      const res = await fetch(url + path, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      });
      const text = await res.text();
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        json = text;
      }
      return { status: res.status, json };
    },
    close: () => handle.close(),
  };
}
