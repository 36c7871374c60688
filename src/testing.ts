/**
 * `multi-token/testing`: tiny random checkpoints in exact Hugging Face format, for tests and examples that must
 * not download anything. Kept off the main entry point: applications do not need them. `multi-token make-tiny`
 * is the command-line form.
 */
export { makeTinyLMFiles, makeTinyLMMFiles, type TinyLMOptions, type TinyLMMOptions } from './tiny/tiny-lmm.js';
export { makeTinyMultimodalFiles, TINY_MODALITIES, type TinyModality, type TinyMultimodalOptions } from './tiny/tiny-multimodal.js';
