import type { Tensor } from '../tf.js';
import { readJSON, resolveSource, type ModelSource, ModelFileError } from '../io/source.js';
import { readWeightFiles, WeightStore, rawToTensor } from '../io/weights.js';
import { LazyWeights } from '../io/lazy-weights.js';
import { loadLlamaWeights } from '../lm/load-llama.js';
import type { MemoryBudget } from '../lm/memory-plan.js';
import type { WeightDType } from '../nn/frozen-weight.js';
import type { RawTensor } from '../io/safetensors.js';
import { loadTokenizer } from '../io/tokenizer.js';
import { parseLlamaConfig } from '../lm/config.js';
import type { LlamaForCausalLM } from '../lm/llama.js';
import { fromPreTrainedTokenizer } from '../chat/tokenizer-adapter.js';
import { buildModalities, modalityFromConfig, type BuildContext } from '../modality/registry.js';
import type { Modality } from '../modality/modality.js';
import { initProjector, projectorFromWeights } from '../projector/index.js';
import type { Projector } from '../projector/projector.js';
import { projectorSpecDifference } from '../projector/spec-check.js';
import { Rng } from '../util/rng.js';
import { loadLoraWeights, mergeLora, parsePeftAdapterConfig } from '../lora/lora.js';
import type { MultiTokenSection } from './checkpoint-config.js';
import { normaliseLMKey, normaliseProjectorKey } from './projector-keys.js';
import { LMM } from './lmm.js';
// The built-in modality families register their builders and kinds on import, exactly as a user's modality
// does (examples/custom-modality.ts); loading needs them to rebuild modalities from config.json.
import '../modality/vector/register.js';
import '../modality/vision-clip/register.js';
import '../modality/video/register.js';
import '../modality/audio-whisper/register.js';
import '../modality/document-gte/register.js';
import '../modality/onnx/register.js';

export interface LoadLMMOptions {
  /**
   * The base LM when the checkpoint holds only adapters and projectors (the seed's `--model_name_or_path`
   * with `--model_lora_path`). Default: the checkpoint itself.
   */
  base?: string | ModelSource;
  /** Opens encoder folders and `base` given as paths (Node passes a folder reader). */
  open?: (where: string) => ModelSource;
  /** Fold LoRA adapters into the weights (inference; default true) or keep them trainable. */
  mergeLora?: boolean;
  /** Options for `modality_builder` when the checkpoint has no `multi_token` section (Python checkpoints). */
  modalityOptions?: Record<string, unknown>;
  /**
   * Builds these modalities when the checkpoint names none (training a plain LM: the seed's
   * `--modality_builder`). Ignored for checkpoints that already list modalities.
   */
  modalityBuilder?: string;
  /** Projector weights from this file instead of the checkpoint (the seed's `--pretrained_projectors_path`). */
  projectorWeights?: Map<string, RawTensor>;
  /** Start projectors from scratch when the checkpoint has none (training from a plain LM). */
  initProjectors?: boolean;
  /** Seed for `initProjectors`. */
  seed?: number;
  /** Progress messages ("loading LM weights…"). */
  onProgress?: (message: string) => void;
  /** Bytes of LM weights read so far, of the total (for a progress bar). */
  onLoadProgress?: (readBytes: number, totalBytes: number) => void;
  /**
   * How the LM's Linear weights are held: `f32`, `f16`/`bf16` (16-bit, widened per use), `int8`/`int4`
   * (quantized at load unless the checkpoint already is). Default: f32, or the checkpoint's bits. Needs an engine
   * that holds frozen weights (Node's onnxruntime engine); elsewhere weights are widened to f32.
   */
  dtype?: WeightDType;
  /** Full finetuning: LM weights as float32 tfjs variables (no engine placement, `dtype` ignored). */
  trainableLM?: boolean;
  /** LoRA/QLoRA training: keep what gradients through the frozen weights need. */
  gradients?: boolean;
  /** Overrides the platform's memory budget for the fit check (tests; null disables it). */
  memoryBudget?: MemoryBudget | null;
}

async function firstWith(name: string, ...sources: (ModelSource | null)[]): Promise<ModelSource | null> {
  for (const s of sources) if (s && (await s.exists(name))) return s;
  return null;
}

async function hasWeights(s: ModelSource, prefix: string): Promise<boolean> {
  for (const n of [`${prefix}.safetensors`, `${prefix}.safetensors.index.json`, `${prefix}.bin`, 'pytorch_model.bin']) {
    if ((prefix === 'model' || n !== 'pytorch_model.bin') && (await s.exists(n))) return true;
  }
  return false;
}

/**
 * Loads a multimodal checkpoint: the LM (config.json + safetensors), its tokenizer and chat template, the
 * modalities listed in config.json (rebuilt by kind, or by the seed's `modality_builder`), projector weights
 * from `non_lora_trainables.{safetensors,bin}`, and a PEFT LoRA adapter if present. Works for our checkpoints
 * and the Python library's, from a folder (Node) or a URL (anywhere).
 */
export async function loadLMM(where: string | ModelSource, opts: LoadLMMOptions = {}): Promise<LMM> {
  const open = opts.open ?? resolveSource;
  const src = typeof where === 'string' ? open(where) : where;
  const log = opts.onProgress ?? (() => {});
  const config = await readJSON<Record<string, unknown>>(src, 'config.json');
  const base = opts.base ? (typeof opts.base === 'string' ? open(opts.base) : opts.base) : null;

  const lmSource = (await hasWeights(src, 'model')) ? src : base;
  if (!lmSource || !(await hasWeights(lmSource, 'model'))) {
    throw new ModelFileError(
      `${src.location} has no language-model weights (model.safetensors); pass the base model it was trained from` +
        ` (--model_name_or_path / { base })`,
    );
  }
  const lmConfigRaw = lmSource === src ? config : await readJSON<Record<string, unknown>>(lmSource, 'config.json');
  const lmConfig = parseLlamaConfig(lmConfigRaw);
  log(`loading language model weights from ${lmSource.location}`);
  const lmWeights = await LazyWeights.open(lmSource);
  // A Python full finetune keeps trained LM weights in non_lora_trainables: they replace the base ones as read.
  let nonLora: Map<string, RawTensor> | null = opts.projectorWeights ?? null;
  if (!nonLora && (await hasWeights(src, 'non_lora_trainables'))) nonLora = await readWeightFiles(src, { prefix: 'non_lora_trainables' });
  const lmOverrides = new Map<string, RawTensor>();
  for (const [key, t] of nonLora ?? []) if (!normaliseProjectorKey(key)) lmOverrides.set(normaliseLMKey(key), t);
  if (lmOverrides.size) lmWeights.override(lmOverrides, `non_lora_trainables in ${src.location}`);
  const lm = await loadLlamaWeights(lmConfig, lmWeights, {
    dtype: opts.dtype,
    trainable: opts.trainableLM,
    gradients: opts.gradients,
    memoryBudget: opts.memoryBudget,
    onProgress: opts.onLoadProgress,
    onNote: log,
  });

  const tokSource = await firstWith('tokenizer.json', src, base, lmSource);
  if (!tokSource) throw new ModelFileError(`no tokenizer.json in ${src.location}${base ? ` or ${base.location}` : ''}`);
  const tokenizer = fromPreTrainedTokenizer(await loadTokenizer(tokSource));

  const ctx: BuildContext = { source: src, open };
  const section = config.multi_token as MultiTokenSection | undefined;
  let modalities: Modality[];
  if (section?.modalities) {
    modalities = [];
    for (const mc of section.modalities) {
      log(`loading modality ${mc.name} (${mc.kind})`);
      const m = await modalityFromConfig(mc, ctx);
      // The projector is built from the rebuilt modality's spec: it must be the one the weights were trained as.
      const diff = mc.projector ? projectorSpecDifference(mc.projector, m.projectorSpec) : null;
      if (diff) {
        throw new ModelFileError(
          `${src.location}/config.json: modality "${mc.name}" (kind ${mc.kind}) rebuilds with another projector than it was saved with (${diff}); ` +
            `its toConfig() must keep every option its projectorSpec depends on`,
        );
      }
      modalities.push(m);
    }
  } else if (typeof config.modality_builder === 'string' && config.modality_builder) {
    modalities = await buildModalities(config.modality_builder, { ...ctx, options: opts.modalityOptions });
  } else if (opts.modalityBuilder) {
    modalities = await buildModalities(opts.modalityBuilder, { ...ctx, options: opts.modalityOptions });
  } else {
    modalities = [];
  }

  const projectors = await loadProjectors(src, modalities, lmConfig.hiddenSize, nonLora, opts);
  const lmm = new LMM(lm, tokenizer, modalities, projectors, {
    modelCls: typeof config.model_cls === 'string' ? config.model_cls : undefined,
    modalityBuilder: typeof config.modality_builder === 'string' ? config.modality_builder : opts.modalityBuilder,
    baseModel: base?.location ?? src.location,
  });

  if (await src.exists('adapter_config.json')) {
    const loraCfg = parsePeftAdapterConfig(await readJSON(src, 'adapter_config.json'));
    log(`applying LoRA adapter (r=${loraCfg.r}, alpha=${loraCfg.loraAlpha})`);
    const raw = await readWeightFiles(src, { prefix: 'adapter_model' });
    const tensors = new Map<string, Tensor>([...raw].map(([k, v]) => [k, rawToTensor(v, k)]));
    lmm.lora = loadLoraWeights(lm, loraCfg, tensors, `${src.location}/adapter_model`);
    if (opts.mergeLora ?? true) {
      mergeLora(lm);
      // Adapters on engine-held (16-/8-/4-bit) weights stay unmerged and keep running beside them.
      const linears = lm.linears();
      const left = new Map([...lmm.lora].filter(([name]) => linears.get(name)?.adapter));
      lmm.lora = left.size ? left : null;
    }
    for (const t of tensors.values()) t.dispose();
  }
  return lmm;
}

async function loadProjectors(
  src: ModelSource,
  modalities: Modality[],
  hidden: number,
  raw: Map<string, RawTensor> | null,
  opts: LoadLMMOptions,
): Promise<Projector[]> {
  if (modalities.length === 0) return [];
  if (!raw) {
    if (!opts.initProjectors) {
      throw new ModelFileError(`${src.location} has no non_lora_trainables.safetensors (or .bin) with projector weights`);
    }
    const rng = new Rng(opts.seed ?? 0);
    return modalities.map((m) => initProjector(m.projectorSpec, hidden, () => rng.next()));
  }
  // LM weights in the same file were applied while the LM loaded (LazyWeights.override).
  const proj = new Map<string, RawTensor>();
  for (const [key, t] of raw) {
    const pk = normaliseProjectorKey(key);
    if (pk) proj.set(pk, t);
  }
  const store = new WeightStore(proj, `${src.location}/non_lora_trainables`);
  return modalities.map((m) => projectorFromWeights(m.projectorSpec, (n) => store.get(`${m.name}_lmm_projector.${n}`)));
}

