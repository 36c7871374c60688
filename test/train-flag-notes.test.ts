import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { tf } from '../src/tf.js';
import '@tensorflow/tfjs-backend-wasm';
import { installKernelFallbacks } from '../src/backend-fallbacks.js';
import { TRAIN_DEFAULTS, type TrainArgs } from '../node/train/args.js';
import { flagNotes, modelFlagNotes, type ModelFacts } from '../node/train/flag-notes.js';
import { planEvaluation } from '../node/train/eval-plan.js';
import { runTraining } from '../node/train/run-training.js';
import { writeDirAtomic } from '../node/atomic-write.js';
import { makeTinyMultimodalFiles } from '../src/tiny/tiny-multimodal.js';
import { tmpDir, tinyVectorModel, vectorRows, writeJsonl } from './helpers/tiny-vector.js';
import '../node/index.js';

await tf.setBackend('wasm');
installKernelFallbacks('wasm');

const base: TrainArgs = { ...TRAIN_DEFAULTS, model_name_or_path: 'm', dataset_path: 'd', output_dir: 'o' };
const a = (over: Partial<TrainArgs>): TrainArgs => ({ ...base, ...over });

/** Each combination where one flag makes another meaningless, and the note it must produce (and only that one). */
const COMBINATIONS: [string, Partial<TrainArgs>, 'no' | 'steps' | 'epoch', RegExp][] = [
  ['feature cache with trained encoders', { feature_cache: '/c', train_encoders: true }, 'no', /^--feature_cache is not used with --train_encoders: the encoders change every step/],
  ['one LoRA flag without LoRA', { lora_r: 8 }, 'no', /^--lora_r has no effect without --lora_enable/],
  ['several LoRA flags without LoRA', { lora_alpha: 32, lora_dropout: 0.1, lora_target_modules: 'attention' }, 'no', /^--lora_alpha, --lora_dropout, --lora_target_modules have no effect without --lora_enable/],
  ['LoRA with projector pretraining', { lora_enable: true, pretrain_projectors: true }, 'no', /^--lora_enable has no effect with --pretrain_projectors: only the projectors train/],
  ['warmup steps and ratio', { warmup_steps: 10, warmup_ratio: 0.1 }, 'no', /^--warmup_ratio 0\.1 is ignored: --warmup_steps 10 takes precedence/],
  ['max steps and epochs', { max_steps: 100, num_train_epochs: 5 }, 'no', /^--num_train_epochs 5 is ignored: --max_steps 100 sets the length/],
  ['eval flags with evaluation off', { per_device_eval_batch_size: 4, load_best_model_at_end: true, early_stopping_patience: 3 }, 'no', /^--per_device_eval_batch_size, --load_best_model_at_end, --early_stopping_patience have no effect: evaluation is off/],
  ['metric flags with evaluation off', { metric_for_best_model: 'exact_match', greater_is_better: true }, 'no', /^--metric_for_best_model, --greater_is_better have no effect: evaluation is off/],
  ['eval steps with epoch strategy', { eval_steps: 50 }, 'epoch', /^--eval_steps 50 has no effect with --evaluation_strategy epoch$/],
  ['early stopping threshold without patience', { early_stopping_threshold: 0.01 }, 'steps', /^--early_stopping_threshold has no effect without --early_stopping_patience$/],
  ['save encoders with trained encoders', { save_encoders: true, train_encoders: true }, 'no', /^--save_encoders is implied by --train_encoders/],
];

test('flag notes: every combination gets its one line, and the defaults get none', () => {
  assert.deepEqual(flagNotes(base, 'no'), []);
  assert.deepEqual(flagNotes(a({ lora_enable: true, lora_r: 8, lora_alpha: 16 }), 'no'), [], 'LoRA flags with LoRA on');
  assert.deepEqual(flagNotes(a({ eval_steps: 5, load_best_model_at_end: true, early_stopping_patience: 2, early_stopping_threshold: 0.1 }), 'steps'), [], 'eval flags with eval on');
  assert.deepEqual(flagNotes(a({ lora_r: TRAIN_DEFAULTS.lora_r }), 'no'), [], 'a flag set to its default is not news');
  for (const [name, over, strategy, want] of COMBINATIONS) {
    const notes = flagNotes(a(over), strategy);
    assert.equal(notes.length, 1, `${name}: ${JSON.stringify(notes)}`);
    assert.match(notes[0], want, name);
    assert.ok(!notes[0].includes('\n'), `${name}: one line`);
  }
});

test('model flag notes: builder/options on a model that has modalities, cache without encoders, an existing adapter, foreign projectors, resume', () => {
  const facts: ModelFacts = { model: '/m', configModalities: ['vision_clip'], configBuilder: 'vision_clip' };
  assert.deepEqual(modelFlagNotes(base, facts), []);
  assert.deepEqual(modelFlagNotes(a({ modality_builder: 'vision_clip' }), facts), [], 'the same builder is no news');
  const cases: [Partial<TrainArgs>, Partial<ModelFacts>, RegExp][] = [
    [{ modality_builder: 'audio_whisper' }, {}, /^--modality_builder audio_whisper is ignored: \/m already has modalities \(vision_clip\)$/],
    [{ modality_options: '{"encoder":"/x"}' }, {}, /^--modality_options is ignored: \/m already has modalities \(vision_clip\), configured in its config\.json$/],
    [{ feature_cache: '/c' }, { configModalities: [], configBuilder: undefined }, /^--feature_cache is not used: the model has no modality encoders/],
    [{ lora_enable: true, lora_r: 4 }, { adapter: { r: 16, alpha: 32 } }, /^--lora_r is ignored: \/m already has a LoRA adapter \(r=16, alpha=32\), which training continues$/],
    [{}, { foreignProjectors: ['audio_lmm_projector.0.weight', 'audio_lmm_projector.0.bias'] }, /^--pretrained_projectors_path: 2 tensor\(s\) for modalities this model does not have are ignored \(e\.g\. audio_lmm_projector\.0\.weight\)$/],
    [{ pretrained_projectors_path: '/p', resume_from_checkpoint: 'true' }, {}, /^--pretrained_projectors_path is overridden by --resume_from_checkpoint/],
  ];
  for (const [over, f, want] of cases) {
    const notes = modelFlagNotes(a(over), { ...facts, ...f });
    assert.equal(notes.length, 1, JSON.stringify(notes));
    assert.match(notes[0], want);
  }
  // A text-only model given a builder: the builder works, so the cache is used.
  assert.deepEqual(modelFlagNotes(a({ feature_cache: '/c', modality_builder: 'vector' }), { model: '/m', configModalities: [] }), []);
});

test('evaluation plan: strategy from the flags given, the held-out split found, a hint when it is not used, errors when nothing to evaluate', async () => {
  const dir = await tmpDir();
  const train = await writeJsonl(vectorRows(2), dir);
  const plain = await tmpDir();
  const alone = await writeJsonl(vectorRows(2), plain);
  assert.deepEqual(await planEvaluation(a({ dataset_path: alone })), { strategy: 'no', evalSteps: 10, source: null, notes: [] });
  await writeFile(path.join(dir, 'test.jsonl'), '');
  const hint = await planEvaluation(a({ dataset_path: train }));
  assert.equal(hint.strategy, 'no');
  assert.match(hint.notes[0], /has a held-out "test" split; pass --evaluation_strategy epoch \(or steps\) to evaluate on it/);
  assert.deepEqual(await planEvaluation(a({ dataset_path: train, evaluation_strategy: 'no' })), { strategy: 'no', evalSteps: 10, source: null, notes: [] });
  const steps = await planEvaluation(a({ dataset_path: dir, eval_steps: 5 }));
  assert.deepEqual([steps.strategy, steps.evalSteps, steps.source?.path], ['steps', 5, path.join(dir, 'test.jsonl')]);
  const epoch = await planEvaluation(a({ dataset_path: alone, eval_dataset_path: '/x/held.jsonl' }));
  assert.deepEqual([epoch.strategy, epoch.source?.path], ['epoch', '/x/held.jsonl']);
  assert.equal((await planEvaluation(a({ dataset_path: dir, evaluation_strategy: 'steps', logging_steps: 7 }))).evalSteps, 7, 'eval_steps defaults to logging_steps');
  await assert.rejects(planEvaluation(a({ dataset_path: alone, evaluation_strategy: 'epoch' })), /--evaluation_strategy epoch needs held-out rows/);
  await assert.rejects(planEvaluation(a({ evaluation_strategy: 'sometimes' })), /--evaluation_strategy must be steps, epoch or no \(got sometimes\)/);
  await assert.rejects(planEvaluation(a({ dataset_path: dir, evaluation_strategy: 'steps', eval_steps: 0 })), /--eval_steps must be a positive integer/);
});

test('--pretrained_projectors_path from a model of another width is a one-line error at start; a matching one loads', async () => {
  const root = await tmpDir();
  const model = await tinyVectorModel(path.join(root, 'm32'));
  const wide = path.join(root, 'm48');
  await writeDirAtomic(wide, await makeTinyMultimodalFiles({ arch: 'qwen2', modalities: ['vector'], hiddenSize: 48, numHiddenLayers: 1, seed: 2 }));
  const dataset = await writeJsonl(vectorRows(8), root);
  const args = (over: Partial<TrainArgs>) => a({ model_name_or_path: model, dataset_path: dataset, output_dir: path.join(root, 'out'), max_steps: 1, progress: false, ...over });
  await assert.rejects(runTraining(args({ pretrained_projectors_path: wide }), () => {}), (e: Error) => {
    assert.match(e.message, /vector_lmm_projector\.\S+ has shape \[[\d,]+\] where this model \(LM hidden 32\) needs \[[\d,]+\]; it was trained for another model$/);
    assert.ok(!e.message.includes('\n'));
    return true;
  });
  const lines: string[] = [];
  await runTraining(args({ pretrained_projectors_path: path.join(model, 'non_lora_trainables.safetensors') }), (l) => lines.push(l));
  assert.ok(lines.some((l) => /^projectors from .*non_lora_trainables\.safetensors \(\d+ tensors\)$/.test(l)));
  assert.ok(!lines.some((l) => l.startsWith('note:')), lines.join('\n'));
});
