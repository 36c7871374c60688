import type { ModalityConfig } from '../modality/modality.js';
import type { ProjectorSpec } from '../projector/projector.js';
import type { LMM } from './lmm.js';

/** Our section of config.json, beside the seed's top-level `model_cls` / `modality_builder` / `modalities`. */
export interface MultiTokenSection {
  version: 1;
  modalities: (ModalityConfig & { projector: ProjectorSpec; tokenWidth: number })[];
}

/** The seed names the LMM class after the LM family (`MistralLMMForCausalLM`). */
export function seedModelCls(modelType: string): string {
  return { llama: 'LlamaLMMForCausalLM', mistral: 'MistralLMMForCausalLM', qwen2: 'Qwen2LMMForCausalLM' }[modelType] ?? 'LMMForCausalLM';
}

/** config.json for a checkpoint of `lmm`: the LM's own config plus the seed's fields and our modality list. */
export function lmmConfigJSON(lmm: LMM): Record<string, unknown> {
  const section: MultiTokenSection = {
    version: 1,
    modalities: lmm.modalities.map((m) => ({ ...m.toConfig(), projector: m.projectorSpec, tokenWidth: m.tokenWidth })),
  };
  return {
    ...lmm.lm.config.raw,
    model_cls: lmm.meta.modelCls ?? seedModelCls(lmm.lm.config.modelType),
    modality_builder: lmm.meta.modalityBuilder ?? (lmm.modalities.length ? lmm.modalities.map((m) => m.name).join('+') : null),
    modalities: lmm.modalities.map((m) => m.name),
    multi_token: section,
  };
}
