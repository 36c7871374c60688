/**
 * Webcam snapshots and microphone recordings, for browsers that have them (both need a secure context and the
 * user's permission; the buttons are hidden where the APIs are missing).
 */
import { webAudioDecoder } from '../../src/media/audio-input-browser.js';
import { mixToMono } from '../../src/media/audio-resample.js';
import { encodeWav } from './wav.js';

/** Whether `getUserMedia` exists (it is undefined outside secure contexts). */
export function canCapture(): boolean {
  return typeof navigator !== 'undefined' && typeof navigator.mediaDevices?.getUserMedia === 'function';
}

/** Whether microphone recording can work here. */
export function canRecord(): boolean {
  return canCapture() && typeof MediaRecorder !== 'undefined';
}

/**
 * Shows the camera in `video` until `snap` resolves, then returns the frame as a PNG file. `snap` is the
 * user's click; rejecting it cancels. The camera is released either way.
 */
export async function webcamSnapshot(video: HTMLVideoElement, snap: Promise<void>): Promise<File> {
  const stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' }, audio: false });
  try {
    video.srcObject = stream;
    await video.play();
    await snap;
    const canvas = document.createElement('canvas');
    canvas.width = video.videoWidth;
    canvas.height = video.videoHeight;
    canvas.getContext('2d')!.drawImage(video, 0, 0);
    const blob = await new Promise<Blob | null>((ok) => canvas.toBlob(ok, 'image/png'));
    if (!blob) throw new Error('the camera frame could not be encoded as PNG');
    return new File([blob], `webcam-${timestamp()}.png`, { type: 'image/png' });
  } finally {
    for (const t of stream.getTracks()) t.stop();
    video.srcObject = null;
  }
}

/** A running microphone recording; `stop()` gives the clip as a 16 kHz mono WAV file. */
export interface Recording {
  stop(): Promise<File>;
  cancel(): void;
}

/** Starts recording from the microphone. */
export async function startRecording(sampleRate = 16000): Promise<Recording> {
  const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
  const recorder = new MediaRecorder(stream);
  const chunks: Blob[] = [];
  recorder.ondataavailable = (e) => chunks.push(e.data);
  const stopped = new Promise<void>((ok) => (recorder.onstop = () => ok()));
  recorder.start();
  const release = () => stream.getTracks().forEach((t) => t.stop());
  return {
    async stop() {
      recorder.stop();
      await stopped;
      release();
      const encoded = new Uint8Array(await new Blob(chunks, { type: recorder.mimeType }).arrayBuffer());
      // The browser decodes its own recording format and resamples to `sampleRate` in the same step.
      const decoded = await webAudioDecoder(sampleRate)(encoded, 'microphone recording');
      const wav = encodeWav(mixToMono(decoded.channels), decoded.sampleRate);
      return new File([wav as Uint8Array<ArrayBuffer>], `recording-${timestamp()}.wav`, { type: 'audio/wav' });
    },
    cancel() {
      if (recorder.state !== 'inactive') recorder.stop();
      release();
    },
  };
}

function timestamp(): string {
  return new Date().toISOString().slice(11, 19).replace(/:/g, '');
}
