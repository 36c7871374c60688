/**
 * A multimodal model whose language model runs on the WebGPU decode engine (lm-engine.ts) with its weights
 * packed on the GPU, while the tokenizer, the modality encoders and the projectors are the library's (tfjs,
 * any backend). The same checkpoint folders as `loadLMM` (ours, the Python library's, quantized ones).
 *
 * Batch 1: the page's chat. Projected modality rows are handed to the engine, whose embedding kernel splices
 * them in at the placeholder positions.
 */
import { tf, type Tensor } from '../tf.js';
import { readJSON, resolveSource, ModelFileError, type ModelSource } from '../io/source.js';
import { readWeightFiles, WeightStore } from '../io/weights.js';
import { loadTokenizer } from '../io/tokenizer.js';
import { fromPreTrainedTokenizer } from '../chat/tokenizer-adapter.js';
import type { ChatTokenizer } from '../chat/chat-tokenizer.js';
import { encodeChat, type ChatRow, type EncodedChat } from '../chat/encode-chat.js';
import { buildModalities, modalityFromConfig, type BuildContext } from '../modality/registry.js';
import type { Modality, PreprocessContext } from '../modality/modality.js';
import { RowError } from '../util/row-error.js';
import { projectorFromWeights } from '../projector/index.js';
import type { Projector } from '../projector/projector.js';
import { normaliseProjectorKey } from '../lmm/projector-keys.js';
import type { MultiTokenSection } from '../lmm/checkpoint-config.js';
import { buildSpliceLayout } from '../splice/layout.js';
import { buildRowIndex } from '../../kernels/embedding-merge.js';
import { IncrementalDecoder, StopStringFilter } from '../lm/text-stream.js';
import { loadWebGPULM, type LoadWebGPULMOptions } from './load-lm.js';
import type { DeviceSampling, WebGPULM } from './lm-engine.js';
import '../modality/vector/register.js';
import '../modality/vision-clip/register.js';
import '../modality/video/register.js';
import '../modality/audio-whisper/register.js';
import '../modality/document-gte/register.js';
import '../modality/onnx/register.js';

/** The LM on the GPU engine, the rest of the multimodal model in tfjs. */
export class GpuLMM {
  constructor(
    readonly lm: WebGPULM,
    readonly tokenizer: ChatTokenizer,
    readonly modalities: Modality[],
    readonly projectors: Projector[],
  ) {}

  /** GPU memory the language model holds (weights, KV cache, activations). */
  get gpuBytes(): number {
    return this.lm.memory.total;
  }

  /** Tokenises one conversation with the generation prompt. */
  encodeRow(row: ChatRow): EncodedChat {
    return encodeChat(row, this.tokenizer, this.modalities, { mode: 'generate' });
  }

  /** Projected modality rows `[R, D]` for one encoded row, in the layout's order (modality, instance, offset). */
  async projectItems(e: EncodedChat, pre: Omit<PreprocessContext, 'rowId'> = {}): Promise<Float32Array | null> {
    const parts: Tensor[] = [];
    for (const [mi, m] of this.modalities.entries()) {
      if (e.items[mi].length === 0) continue;
      let prepared: unknown;
      try {
        prepared = await m.preprocess(e.items[mi], { ...pre, rowId: e.id });
      } catch (err) {
        if (err instanceof RowError) throw err;
        throw new RowError(e.id, `${m.dataKey}: ${(err as Error).message}`);
      }
      const [features] = await m.encode([prepared]);
      const y = tf.tidy(() => {
        const p = this.projectors[mi].apply(features);
        return p.reshape([-1, p.shape[p.rank - 1] as number]);
      });
      features.dispose();
      parts.push(y);
    }
    if (parts.length === 0) return null;
    const all = tf.concat(parts, 0);
    const out = (await all.data()) as Float32Array;
    all.dispose();
    for (const p of parts) p.dispose();
    return out;
  }

  dispose(): void {
    this.lm.dispose();
    for (const p of this.projectors) p.dispose();
    for (const m of this.modalities) m.dispose?.();
  }
}

/** Options of {@link loadGpuLMM}. */
export interface LoadGpuLMMOptions extends LoadWebGPULMOptions {
  /** Opens encoder folders given as paths. */
  open?: (where: string) => ModelSource;
}

/**
 * Loads a checkpoint with its LM on the WebGPU engine. Refuses what the engine cannot hold: LoRA adapters not
 * merged into the weights, and full finetunes whose LM weights sit in `non_lora_trainables`.
 */
export async function loadGpuLMM(where: string | ModelSource, opts: LoadGpuLMMOptions = {}): Promise<GpuLMM> {
  const open = opts.open ?? resolveSource;
  const src = typeof where === 'string' ? open(where) : where;
  const log = (message: string) => opts.onProgress?.({ message });
  const config = await readJSON<Record<string, unknown>>(src, 'config.json');
  if (await src.exists('adapter_config.json')) {
    throw new ModelFileError(`${src.location} holds a LoRA adapter: merge it into the weights first (the WebGPU engine runs merged weights)`);
  }
  const tokenizer = fromPreTrainedTokenizer(await loadTokenizer(src));
  const ctx: BuildContext = { source: src, open };
  const section = config.multi_token as MultiTokenSection | undefined;
  const modalities: Modality[] = [];
  if (section?.modalities) {
    for (const mc of section.modalities) {
      log(`loading modality ${mc.name} (${mc.kind})`);
      modalities.push(await modalityFromConfig(mc, ctx));
    }
  } else if (typeof config.modality_builder === 'string' && config.modality_builder) {
    modalities.push(...(await buildModalities(config.modality_builder, ctx)));
  }
  const projectors: Projector[] = [];
  if (modalities.length > 0) {
    const raw = await readWeightFiles(src, { prefix: 'non_lora_trainables' });
    const proj = new Map();
    for (const [key, t] of raw) {
      const pk = normaliseProjectorKey(key);
      if (!pk) throw new ModelFileError(`non_lora_trainables in ${src.location}: "${key}" is not a projector weight (full finetunes are not supported on the WebGPU engine)`);
      proj.set(pk, t);
    }
    const store = new WeightStore(proj, `${src.location}/non_lora_trainables`);
    for (const m of modalities) projectors.push(projectorFromWeights(m.projectorSpec, (n) => store.get(`${m.name}_lmm_projector.${n}`)));
  }
  log('loading the language model onto the GPU');
  const lm = await loadWebGPULM(src, opts);
  return new GpuLMM(lm, tokenizer, modalities, projectors);
}

/** Options of {@link streamGenerateGpu}. */
export interface GpuGenerateOptions extends DeviceSampling {
  maxNewTokens?: number;
  stop?: string[];
  signal?: AbortSignal;
  preprocess?: Omit<PreprocessContext, 'rowId'>;
}

/** One streamed step: the new text and, on the last one, why generation ended. */
export interface GpuStreamStep {
  delta: string;
  token: number;
  finishReason: null | 'stop' | 'length';
}

/** Streams the answer to one conversation, token by token. */
export async function* streamGenerateGpu(lmm: GpuLMM, row: ChatRow, opts: GpuGenerateOptions = {}): AsyncGenerator<GpuStreamStep> {
  const e = lmm.encodeRow(row);
  const projected = await lmm.projectItems(e, opts.preprocess);
  const layout = buildSpliceLayout([{ inputIds: e.inputIds, runs: e.runs }], lmm.modalities.map((m) => m.tokenWidth));
  const ids = buildRowIndex(layout, lmm.lm.plan.config.vocabSize);
  const stopIds = [...new Set([...lmm.tokenizer.stopTokenIds, ...lmm.lm.plan.config.eosTokenIds])];
  const decoder = new IncrementalDecoder((x) => lmm.tokenizer.decode(x, true));
  const filter = new StopStringFilter(opts.stop ?? []);
  const maxNew = opts.maxNewTokens ?? 128;
  let n = 0;
  for await (const token of lmm.lm.generate(ids, { ...opts, maxNewTokens: maxNew, stopTokenIds: stopIds, projected })) {
    n++;
    let delta: string;
    let finishReason: GpuStreamStep['finishReason'] = null;
    if (stopIds.includes(token)) {
      delta = filter.push(decoder.flush()) + filter.flush();
      finishReason = 'stop';
    } else {
      delta = filter.push(decoder.push(token));
      if (filter.stopped) finishReason = 'stop';
      else if (n >= maxNew || ids.length + n >= lmm.lm.plan.maxSeq) {
        delta += filter.push(decoder.flush()) + filter.flush();
        finishReason = 'length';
      }
    }
    yield { delta, token, finishReason };
    if (finishReason) return;
  }
}
