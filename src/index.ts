/**
 * multi-token: embed arbitrary modalities into Llama-family language models, LLaVA-style. This entry point is
 * isomorphic (browser and Node); Node adds folder loading, CLI helpers and the server under `multi-token/node`.
 */
export { tf } from './tf.js';
export type { Tensor, Variable } from './tf.js';
export { selectBrowserBackend, describeSelection, type BackendName } from './backend.js';

export { MemorySource, UrlSource, SubSource, resolveSource, readJSON, readText, ModelFileError, type ModelSource } from './io/source.js';
export { parseSafetensors, serializeSafetensors, rawToFloat32, float32ToRaw, SafetensorsError, type RawTensor, type DType } from './io/safetensors.js';
export { readWeightFiles, WeightStore, rawToTensor, tensorToRaw, shardTensors } from './io/weights.js';
export { parseTorchStateDict, serializeTorchStateDict } from './io/torch-pickle.js';
export { loadTokenizer } from './io/tokenizer.js';
export type { LoadBytes } from './io/default-loader.js';
export { configurePlatform, type Platform, type HostPlatform } from './platform.js';

export { parseLlamaConfig, type LlamaConfig } from './lm/config.js';
export { LlamaForCausalLM } from './lm/llama.js';
export { KVCache } from './lm/kv-cache.js';
export { generate, generateTokens, leftPad, type GenerateOptions, type GenerationStep } from './lm/generate.js';
export { sampleToken, type SamplingOptions } from './lm/sampling.js';
export { Rng } from './util/rng.js';
export { causalLMLoss, IGNORE_INDEX } from './lm/loss.js';

export type { Modality, ModalityConfig, PreprocessContext } from './modality/modality.js';
export { RowError } from './util/row-error.js';
export { VectorModality, type VectorModalityOptions } from './modality/vector/vector.js';
export {
  MODALITY_BUILDERS,
  registerModalityBuilder,
  registerModalityKind,
  buildModalities,
  modalityFromConfig,
  type BuildContext,
} from './modality/registry.js';
export { PatchMLPProjector, VectorMLPProjector, initProjector, projectorFromWeights, type Projector, type ProjectorSpec } from './projector/index.js';

export { encodeChat, validateChatRow, type ChatRow, type EncodedChat } from './chat/encode-chat.js';
export type { ChatMessage, ChatTokenizer } from './chat/chat-tokenizer.js';
export { fromPreTrainedTokenizer } from './chat/tokenizer-adapter.js';
export { buildSpliceLayout, type SpliceLayout, type PlaceholderRun } from './splice/layout.js';
export { spliceEmbeddings, mergeEmbeddings } from './splice/splice.js';
export { collate, type Batch } from './data/collate.js';

export { LMM, type LMMMeta } from './lmm/lmm.js';
export { loadLMM, type LoadLMMOptions } from './lmm/load.js';
export { lmmCheckpointFiles } from './lmm/save.js';
export { streamGenerate, generateBatch, PromptTooLongError, type LMMGenerateOptions, type LMMGeneration } from './lmm/generate.js';

export { applyLora, mergeLora, loraParameters, ALL_LINEAR_TARGETS, ATTENTION_TARGETS, type LoraConfig } from './lora/lora.js';
export { makeTinyLMFiles, makeTinyLMMFiles } from './tiny/tiny-lmm.js';

export { Trainer, NonFiniteLossError, epochOrder, isEvalEntry, type TrainConfig, type TrainerState, type LogEntry, type EvalLogEntry, type AfterStep } from './train/trainer.js';
export { Evaluator, type EvaluatorOptions, type EvalResult } from './train/evaluate.js';
export { shouldEvaluate, isEvalStrategy, type EvalStrategy } from './train/eval-schedule.js';
export { BestMetric, metricKey, metricValue, type BestMetricOptions } from './train/best-metric.js';
export { formatTrainLine, formatEvalLine, formatSummary, formatDuration, formatMetric } from './train/log-format.js';
export { answerQuestions, questionsOf, shortAnswers, type Question } from './eval/exact-match.js';
export { AdamW } from './train/adamw.js';
export { learningRate, type ScheduleType } from './train/schedule.js';
export { encoderFeatures, cachedFeatures, trainableEncoderFeatures, type FeatureProvider, type FeatureStore } from './train/feature-cache.js';
export { lossCurveSVG, type LossPlotOptions } from './train/loss-plot.js';
export { restoreTrainableWeights } from './lmm/restore.js';
export { accuracyByType, normaliseAnswer, formatAccuracyTable } from './eval/accuracy.js';
export { makeTinyMultimodalFiles, TINY_MODALITIES } from './tiny/tiny-multimodal.js';
