import type { ModelSource } from '../io/source.js';
import { readWeightFiles, rawToTensor } from '../io/weights.js';
import type { RawTensor } from '../io/safetensors.js';
import type { tf } from '../tf.js';
import { normaliseProjectorKey } from './projector-keys.js';
import type { LMM } from './lmm.js';

function assignAll(target: Map<string, tf.Variable>, raw: Map<string, RawTensor>, rename: (k: string) => string | null, where: string): number {
  let n = 0;
  for (const [key, t] of raw) {
    const name = rename(key);
    if (name === null) continue;
    const v = target.get(name);
    if (!v) throw new Error(`${where}: "${key}" does not match any parameter of the model being trained`);
    let value = rawToTensor(t, key);
    if (value.rank === 4 && value.shape.join() !== v.shape.join()) {
      // A conv weight saved in PyTorch layout [out, in, h, w]; tfjs keeps [h, w, in, out].
      const t2 = value.transpose([2, 3, 1, 0]);
      value.dispose();
      value = t2;
    }
    if (value.shape.join() !== v.shape.join()) {
      value.dispose();
      throw new Error(`${where}: "${key}" has shape [${t.shape}], the model has [${v.shape}]`);
    }
    v.assign(value);
    value.dispose();
    n++;
  }
  return n;
}

/**
 * Loads a training checkpoint's weights into a model that already has the same structure (same modalities,
 * same LoRA layout): projectors, LoRA adapters and, for full finetunes, the LM. Used to resume training.
 */
export async function restoreTrainableWeights(lmm: LMM, source: ModelSource): Promise<{ projectors: number; lora: number; lm: number; encoders: number }> {
  const out = { projectors: 0, lora: 0, lm: 0, encoders: 0 };
  if (lmm.modalities.length) {
    const raw = await readWeightFiles(source, { prefix: 'non_lora_trainables' });
    const params = new Map([...lmm.projectorParameters()].map(([k, v]) => [k.slice('model.'.length), v]));
    out.projectors = assignAll(params, raw, normaliseProjectorKey, `${source.location}/non_lora_trainables`);
    if (out.projectors !== params.size) throw new Error(`${source.location}: has ${out.projectors} of ${params.size} projector weights`);
  }
  if (lmm.lora && (await source.exists('adapter_model.safetensors'))) {
    const params = lmm.loraParameters();
    out.lora = assignAll(params, await readWeightFiles(source, { prefix: 'adapter_model' }), (k) => k, `${source.location}/adapter_model`);
  }
  for (const m of lmm.modalities) {
    const folder = `${m.name}_encoder`;
    if (!m.encoderParameters || !(await source.exists(`${folder}/model.safetensors`))) continue;
    const { SubSource } = await import('../io/source.js');
    out.encoders += assignAll(m.encoderParameters(), await readWeightFiles(new SubSource(source, folder)), (k) => k, `${source.location}/${folder}`);
  }
  if ((await source.exists('model.safetensors')) || (await source.exists('model.safetensors.index.json'))) {
    out.lm = assignAll(lmm.lm.parameters(), await readWeightFiles(source), (k) => k, `${source.location}/model.safetensors`);
  }
  return out;
}
