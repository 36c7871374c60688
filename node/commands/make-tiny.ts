/**
 * `multi-token make-tiny`: writes tiny random checkpoints in exact Hugging Face format (language models,
 * encoders, or a complete multimodal checkpoint). Tests, examples and the quick start use these: nothing is
 * ever downloaded.
 */
import type { Command } from 'commander';
import { makeTinyLMFiles } from '../../src/tiny/tiny-lmm.js';
import { makeTinyMultimodalFiles, TINY_MODALITIES, type TinyModality } from '../../src/tiny/tiny-multimodal.js';
import { makeTinyClipVision } from '../../src/tiny/tiny-clip.js';
import { makeTinyWhisperEncoder } from '../../src/tiny/tiny-whisper.js';
import { makeTinyBert } from '../../src/tiny/tiny-bert.js';
import { isChatStyle } from '../../src/tiny/chat-templates.js';
import { writeDirAtomic, type FileWriter } from '../atomic-write.js';
import { lmParameterCount, realSizeLMFiles } from '../tiny/real-size-lm.js';
import { ProgressBar } from '../progress-bar.js';
import { initRuntime } from '../runtime.js';
import { int } from './options.js';

const ARCHS = ['llama', 'mistral', 'qwen2', 'clip-vision', 'whisper-encoder', 'bert'] as const;

export interface MakeTinyOptions {
  out: string;
  arch: string;
  style?: string;
  seed: number;
  hidden_size?: number;
  intermediate_size?: number;
  layers?: number;
  heads?: number;
  kv_heads?: number;
  vocab_size?: number;
  lmm?: boolean;
  modalities?: string;
  image_size?: number;
  patch_size?: number;
  vision_hidden_size?: number;
  vision_layers?: number;
  /** Depth of every modality's projector: 1 = linear (LLaVA-1), 2 = mlp2x_gelu (LLaVA-1.5, the default). */
  projector_layers?: number;
  tokenizer_corpus?: string;
  backend?: string;
  /** Weight dtype in model.safetensors: F32 (default), BF16 or F16 (as real checkpoints ship). */
  dtype?: string;
}

/** Above this many bytes of weights an LM is generated tensor by tensor and streamed (real sizes). */
const STREAM_ABOVE_BYTES = 256e6;

/** Conversation text of a JSON/JSONL dataset, to fit the tiny tokenizer to the data it will see. */
async function corpusFrom(file: string): Promise<string[]> {
  const { readDataset } = await import('../dataset/read-dataset.js');
  const ds = await readDataset(file);
  return ds.rows.flatMap((r) => (Array.isArray(r.messages) ? (r.messages as { content?: unknown }[]).map((m) => String(m.content ?? '')) : []));
}

/** Builds the file set for the options (exported for tests and the quick start). */
export async function tinyFiles(o: MakeTinyOptions): Promise<Map<string, Uint8Array | string | FileWriter>> {
  if (!(ARCHS as readonly string[]).includes(o.arch)) throw new Error(`--arch must be one of ${ARCHS.join(', ')}`);
  if (o.style !== undefined && !isChatStyle(o.style)) throw new Error(`--style must be one of mistral, llama3, chatml, zephyr`);
  // These shape only the encoders and projectors of an --lmm checkpoint; ignoring them silently would hand back a
  // checkpoint other than the one asked for.
  const lmmOnly = (['projector_layers', 'vision_hidden_size', 'vision_layers'] as const).filter((k) => o[k] !== undefined);
  if (!o.lmm && lmmOnly.length) throw new Error(`${lmmOnly.map((k) => `--${k}`).join(', ')} only apply with --lmm`);
  if (o.arch === 'clip-vision') return makeTinyClipVision({ seed: o.seed, hiddenSize: o.hidden_size, layers: o.layers, imageSize: o.image_size });
  if (o.arch === 'whisper-encoder') return makeTinyWhisperEncoder({ seed: o.seed, dModel: o.hidden_size, layers: o.layers });
  if (o.arch === 'bert') return makeTinyBert({ seed: o.seed, hiddenSize: o.hidden_size, layers: o.layers });
  const lm = {
    arch: o.arch as 'llama' | 'mistral' | 'qwen2',
    style: o.style as never,
    seed: o.seed,
    hiddenSize: o.hidden_size,
    intermediateSize: o.intermediate_size,
    numHiddenLayers: o.layers,
    numAttentionHeads: o.heads,
    numKeyValueHeads: o.kv_heads,
    vocabSize: o.vocab_size,
    tokenizerCorpus: o.tokenizer_corpus ? await corpusFrom(o.tokenizer_corpus) : undefined,
  };
  const dtype = (o.dtype ?? 'F32').toUpperCase();
  if (!['F32', 'BF16', 'F16'].includes(dtype)) throw new Error(`--dtype must be F32, BF16 or F16, got ${o.dtype}`);
  if (!o.lmm && (dtype !== 'F32' || lmParameterCount(lm) * 4 > STREAM_ABOVE_BYTES)) {
    if (o.tokenizer_corpus) throw new Error('--tokenizer_corpus is for small models; real-size models get the built-in tokenizer');
    let bar: ProgressBar | null = null;
    return realSizeLMFiles({
      ...lm,
      dtype: dtype as 'F32' | 'BF16' | 'F16',
      onProgress: (done, total) => {
        bar ??= new ProgressBar('make-tiny weights', total / 1e6, 'MB');
        bar.update(done / 1e6);
        if (done >= total) bar.stop();
      },
    });
  }
  if (dtype !== 'F32') throw new Error('--dtype BF16/F16 is for language models (not with --lmm)');
  if (!o.lmm) return makeTinyLMFiles(lm);
  const mods = (o.modalities ?? 'vector').split(',').map((s) => s.trim()).filter(Boolean);
  for (const m of mods) {
    if (!(TINY_MODALITIES as readonly string[]).includes(m)) throw new Error(`unknown modality "${m}" (choose from ${TINY_MODALITIES.join(', ')})`);
  }
  return makeTinyMultimodalFiles({
    ...lm,
    modalities: mods as TinyModality[],
    imageSize: o.image_size,
    patchSize: o.patch_size,
    visionHiddenSize: o.vision_hidden_size,
    visionLayers: o.vision_layers,
    projectorLayers: o.projector_layers,
  });
}

export function registerMakeTiny(program: Command): void {
  program
    .command('make-tiny')
    .description('write a tiny random checkpoint in Hugging Face format (LM, encoder, or multimodal with --lmm)')
    .requiredOption('--out <dir>', 'output folder (written atomically)')
    .option('--arch <arch>', `one of ${ARCHS.join(', ')}`, 'llama')
    .option('--style <style>', 'chat template: mistral | llama3 | chatml | zephyr (default by arch)')
    .option('--seed <n>', 'random seed', int, 0)
    .option('--hidden_size <n>', 'hidden size', int)
    .option('--intermediate_size <n>', 'MLP size', int)
    .option('--layers <n>', 'number of layers', int)
    .option('--heads <n>', 'attention heads', int)
    .option('--kv_heads <n>', 'key/value heads (GQA)', int)
    .option('--vocab_size <n>', 'tokenizer vocabulary size', int)
    .option('--lmm', 'a complete multimodal checkpoint (LM + encoders + projectors)')
    .option('--modalities <list>', `with --lmm: comma-separated, from ${TINY_MODALITIES.join(', ')}`, 'vector')
    .option('--image_size <n>', 'tiny CLIP image size', int)
    .option('--patch_size <n>', 'tiny CLIP patch size', int)
    .option('--vision_hidden_size <n>', 'tiny CLIP hidden size', int)
    .option('--vision_layers <n>', 'tiny CLIP layers', int)
    .option('--projector_layers <n>', 'with --lmm: projector depth, 1 = linear (LLaVA-1), 2 = mlp2x_gelu (default)', int)
    .option('--tokenizer_corpus <file>', 'also train the tokenizer on this dataset\'s conversations')
    .option('--dtype <dtype>', 'LM weight dtype: F32, BF16 or F16 (real sizes are streamed to disk)')
    .option('--backend <name>', 'tfjs backend')
    .action(async (o: MakeTinyOptions) => {
      await initRuntime({ backend: o.backend, quiet: true });
      const files = await tinyFiles(o);
      await writeDirAtomic(o.out, files);
      const { stat } = await import('node:fs/promises');
      const path = await import('node:path');
      let bytes = 0;
      for (const name of files.keys()) bytes += (await stat(path.join(o.out, ...name.split('/')))).size;
      process.stdout.write(`wrote ${files.size} files (${bytes > 1e8 ? `${(bytes / 1e9).toFixed(2)} GB` : `${(bytes / 1024).toFixed(0)} KiB`}) to ${o.out}\n`);
    });
}
