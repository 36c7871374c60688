/**
 * multi-token: embed arbitrary modalities into Llama-family language models, LLaVA-style. This entry point is
 * isomorphic (browser and Node); Node adds folder loading, CLI helpers and the server under `multi-token/node`,
 * and tiny test checkpoints live under `multi-token/testing`.
 */

// Models: the LMM (LM + modalities + projectors), loading and saving checkpoints, the LM itself, LoRA, backends.
export { LMM, type LMMMeta } from './lmm/lmm.js';
export { loadLMM, type LoadLMMOptions } from './lmm/load.js';
export { lmmCheckpointFiles } from './lmm/save.js';
export { restoreTrainableWeights } from './lmm/restore.js';
export { parseLlamaConfig, type LlamaConfig } from './lm/config.js';
export { LlamaForCausalLM } from './lm/llama.js';
export { applyLora, mergeLora, loraParameters, ALL_LINEAR_TARGETS, ATTENTION_TARGETS, type LoraConfig } from './lora/lora.js';
export { tf } from './tf.js';
export type { Tensor, Variable } from './tf.js';
export { selectBrowserBackend, describeSelection, type BackendName } from './backend.js';

// Modalities: the contract a modality implements, the registry of builders and kinds, projectors.
export type { Modality, ModalityConfig, PreprocessContext } from './modality/modality.js';
export { registerModalityBuilder, registerModalityKind, buildModalities, modalityFromConfig, type BuildContext } from './modality/registry.js';
export { VectorModality, type VectorModalityOptions } from './modality/vector/vector.js';
export { XClipVideoModality, type XClipVideoOptions } from './modality/video/video-xclip.js';
export { XCLIPVideoEncoder } from './encoders/xclip-video.js';
export { DEFAULT_ENCODERS } from './modality/encoder-location.js';
export { splitTextIntoDocuments, splitSentences, GTE_CONTEXT_WINDOW } from './modality/document-gte/split-documents.js';
export { PatchMLPProjector, initProjector, type Projector, type ProjectorSpec } from './projector/index.js';

// Data: chat rows → token ids, labels and placeholder runs; the splice of projected rows; batches; row errors.
export { encodeChat, type ChatRow, type EncodedChat } from './chat/encode-chat.js';
export type { ChatMessage, ChatTokenizer } from './chat/chat-tokenizer.js';
export { fromPreTrainedTokenizer } from './chat/tokenizer-adapter.js';
export { buildSpliceLayout, type SpliceLayout, type PlaceholderRun } from './splice/layout.js';
export { spliceEmbeddings, mergeEmbeddings } from './splice/splice.js';
export { collate, type Batch } from './data/collate.js';
export { IGNORE_INDEX } from './lm/loss.js';
export { RowError } from './util/row-error.js';

// Training: the trainer shared by Node and the browser, its optimizer, schedule, loss, features, evaluation.
export { Trainer, NonFiniteLossError, isEvalEntry, type TrainConfig, type TrainerState, type LogEntry, type EvalLogEntry } from './train/trainer.js';
export { Evaluator, type EvaluatorOptions, type EvalResult } from './train/evaluate.js';
export { AdamW } from './train/adamw.js';
export { learningRate, type ScheduleType } from './train/schedule.js';
export { causalLMLoss } from './lm/loss.js';
export { encoderFeatures, cachedFeatures, trainableEncoderFeatures, type FeatureProvider, type FeatureStore } from './train/feature-cache.js';
export { lossCurveSVG, type LossPlotOptions } from './train/loss-plot.js';
export { accuracyByType, formatAccuracyTable } from './eval/accuracy.js';
export { Rng } from './util/rng.js';

// Generation: batched, streaming decoding of LMM conversations, and of the bare LM.
export { streamGenerate, generateBatch, PromptTooLongError, type LMMGenerateOptions, type LMMGeneration } from './lmm/generate.js';
export { generate, generateTokens, type GenerateOptions, type GenerationStep } from './lm/generate.js';
export type { SamplingOptions } from './lm/sampling.js';

// I/O: model sources (memory, URL), safetensors, PyTorch state dicts, tokenizers, and the host's platform hooks.
export { MemorySource, UrlSource, resolveSource, readJSON, ModelFileError, type ModelSource } from './io/source.js';
export { parseHubId, hubResolveBase, hubUrlSource, DEFAULT_HUB_ENDPOINT, type HubId } from './io/hub-id.js';
export { parseSafetensors, serializeSafetensors, rawToFloat32, float32ToRaw, SafetensorsError, type RawTensor, type DType } from './io/safetensors.js';
export { readWeightFiles, WeightStore, rawToTensor, tensorToRaw, shardTensors } from './io/weights.js';
export { parseTorchStateDict, serializeTorchStateDict } from './io/torch-pickle.js';
export { loadTokenizer } from './io/tokenizer.js';
export { configurePlatform, type Platform, type HostPlatform } from './platform.js';
export type { LoadBytes } from './io/default-loader.js';
