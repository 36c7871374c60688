import type { Tensor } from '../tf.js';
import { parseSafetensors, serializeSafetensors, type RawTensor } from '../io/safetensors.js';
import { rawToTensor, tensorToRaw } from '../io/weights.js';
import type { AdamW } from './adamw.js';

/** The optimizer's state as `optimizer.safetensors` bytes (moments by `<param>.exp_avg[_sq]`, step in the metadata). */
export async function optimizerFile(optimizer: AdamW): Promise<Uint8Array> {
  const { step, tensors } = optimizer.state();
  const raw = new Map<string, RawTensor>();
  for (const [k, t] of tensors) raw.set(k, await tensorToRaw(t));
  return serializeSafetensors(raw, { step: String(step) });
}

/** Reads `optimizer.safetensors` bytes back: the step and the tensors (owned by the caller). */
export function readOptimizerFile(bytes: Uint8Array, location: string, fallbackStep: number): { step: number; tensors: Map<string, Tensor> } {
  const { tensors, metadata } = parseSafetensors(bytes, location);
  const out = new Map<string, Tensor>();
  for (const [k, t] of tensors) out.set(k, rawToTensor(t, k));
  return { step: Number(metadata.step ?? fallbackStep), tensors: out };
}
