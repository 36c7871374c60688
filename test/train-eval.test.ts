import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { tf } from '../src/tf.js';
import '@tensorflow/tfjs-backend-wasm';
import { installKernelFallbacks } from '../src/backend-fallbacks.js';
import { parseSafetensors } from '../src/io/safetensors.js';
import { runTraining } from '../node/train/run-training.js';
import { runEval } from '../node/commands/eval.js';
import { TRAIN_DEFAULTS, type TrainArgs } from '../node/train/args.js';
import { isEvalEntry, type EvalLogEntry, type LogEntry, type TrainerState } from '../src/train/trainer.js';
import { tmpDir, tinyVectorModel, vectorRows, writeJsonl } from './helpers/tiny-vector.js';
import '../node/index.js';

await tf.setBackend('wasm');
installKernelFallbacks('wasm');

const model = await tinyVectorModel();
const dataDir = await tmpDir();
const dataset = await writeJsonl(vectorRows(24), dataDir);
// Held-out rows with a question type each, so the exact-match table has rows per type.
const evalRows = vectorRows(8, 2).map((r, i) => ({ ...r, id: `e${i}` }));
const evalFile = path.join(dataDir, 'held-out.jsonl');
await writeFile(evalFile, evalRows.map((r) => JSON.stringify(r)).join('\n') + '\n');
// Question types come from meta.jsonl beside the data, as `dataset synth-shapes` writes it.
await writeFile(path.join(dataDir, 'meta.jsonl'), evalRows.map((r, i) => JSON.stringify({ id: r.id, question_type: i % 2 ? 'odd' : 'even' })).join('\n') + '\n');

function args(over: Partial<TrainArgs>): TrainArgs {
  return {
    ...TRAIN_DEFAULTS,
    model_name_or_path: model,
    dataset_path: dataset,
    output_dir: '',
    per_device_train_batch_size: 8,
    learning_rate: 3e-3,
    max_steps: 6,
    logging_steps: 1,
    save_steps: 0,
    progress: false,
    ...over,
  };
}

async function records(out: string): Promise<(LogEntry & { max_steps: number })[] | (EvalLogEntry & { max_steps: number })[]> {
  return (await readFile(path.join(out, 'train_log.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
}

const evalsOf = (s: TrainerState) => s.log_history.filter(isEvalEntry);

async function tensors(file: string) {
  return parseSafetensors(new Uint8Array(await readFile(file)), file).tensors;
}

test('eval every n steps: eval loss and the exact-match table at steps n, 2n, …; the same table `multi-token eval` prints', async () => {
  const out = path.join(await tmpDir(), 'steps');
  const lines: string[] = [];
  const r = await runTraining(args({ output_dir: out, eval_dataset_path: evalFile, evaluation_strategy: 'steps', eval_steps: 2, per_device_eval_batch_size: 3 }), (l) => lines.push(l));
  const evals = evalsOf(r.state);
  assert.deepEqual(evals.map((e) => e.step), [2, 4, 6]);
  for (const e of evals) {
    assert.ok(Number.isFinite(e.eval_loss) && e.eval_loss > 0, `eval_loss ${e.eval_loss}`);
    assert.equal(e.eval_samples, 8);
    assert.ok(e.eval_exact_match! >= 0 && e.eval_exact_match! <= 1);
    assert.deepEqual(Object.keys(e.eval_exact_match_by_type!), ['even', 'odd']);
    assert.deepEqual(Object.values(e.eval_exact_match_by_type!).map((t) => t.n), [4, 4]);
  }
  // The training log file holds the same evaluations, in step order among the training records.
  const recs = await records(out);
  assert.deepEqual(recs.map((x) => ('eval_loss' in x ? `e${x.step}` : `t${x.step}`)), ['t1', 't2', 'e2', 't3', 't4', 'e4', 't5', 't6', 'e6']);
  assert.ok(lines.some((l) => /^eval step 2\/6  epoch 0\.67  eval_loss \d+\.\d{4}  exact_match \d+\.\d% \(\d\/8; even \d+\.\d%, odd \d+\.\d%\)/.test(l)), lines.join('\n'));

  // Independent check of the last evaluation: `multi-token eval` on the saved model gives the same table, and
  // the loss recomputed row by row (token-weighted) gives the same eval_loss.
  const last = evals.at(-1)!;
  const table = await runEval({ model: out, dataset: evalFile, batch_size: 5, max_new_tokens: 24 });
  assert.equal(table.overall.correct, Math.round(last.eval_exact_match! * 8));
  for (const row of table.rows) assert.equal(row.correct, last.eval_exact_match_by_type![row.type].correct, row.type);
  const { loadLMM } = await import('../src/lmm/load.js');
  const { openSource } = await import('../node/folder-source.js');
  const { collate } = await import('../src/data/collate.js');
  const lmm = await loadLMM(out, { open: openSource });
  let sum = 0;
  let count = 0;
  for (const row of evalRows) {
    const { batch } = collate([lmm.encodeRow(row as never, { mode: 'train' })], { maxLength: 512, padTokenId: lmm.tokenizer.padTokenId, tokenWidths: lmm.tokenWidths });
    const features = await lmm.encode(await lmm.preprocess(batch!.items, batch!.ids), batch!.layout, batch!.ids);
    const f = lmm.forward(batch!, features, false);
    sum += f.loss.dataSync()[0] * f.count;
    count += f.count;
    f.loss.dispose();
    f.logits.dispose();
    for (const t of features) t?.dispose();
  }
  lmm.dispose();
  assert.ok(Math.abs(sum / count - last.eval_loss) < 1e-4, `row-by-row ${sum / count} vs ${last.eval_loss}`);
});

test('eval every epoch on the test split of --dataset_path (found, not named); evaluating leaves the training trajectory unchanged', async () => {
  const dir = await tmpDir();
  await writeJsonl(vectorRows(24), dir);
  await writeFile(path.join(dir, 'test.jsonl'), evalRows.slice(0, 5).map((r) => JSON.stringify(r)).join('\n') + '\n');
  const out = path.join(dir, 'epoch');
  const r = await runTraining(args({ dataset_path: dir, output_dir: out, evaluation_strategy: 'epoch' }), () => {});
  // 24 rows / batch 8 = 3 steps per epoch.
  assert.deepEqual(evalsOf(r.state).map((e) => [e.step, e.epoch, e.eval_samples]), [[3, 1, 5], [6, 2, 5]]);
  const plain = await runTraining(args({ dataset_path: dir, output_dir: path.join(dir, 'plain') }), () => {});
  const losses = (s: TrainerState) => s.log_history.flatMap((e) => ('loss' in e ? [e.loss] : []));
  assert.deepEqual(losses(r.state), losses(plain.state));
});

test('--load_best_model_at_end: the best checkpoint survives --save_total_limit and is what output_dir holds', async () => {
  const out = path.join(await tmpDir(), 'best');
  const lines: string[] = [];
  // "Best" = highest eval loss, so the best is an early checkpoint while training keeps lowering the loss.
  const r = await runTraining(
    args({ output_dir: out, pretrain_projectors: true, learning_rate: 5e-2, eval_dataset_path: evalFile, eval_steps: 1, save_total_limit: 1, load_best_model_at_end: true, metric_for_best_model: 'loss', greater_is_better: true }),
    (l) => lines.push(l),
  );
  const evals = evalsOf(r.state);
  assert.equal(evals.length, 6);
  const best = evals.reduce((a, b) => (b.eval_loss > a.eval_loss ? b : a));
  assert.ok(best.step < 6, `the best should not be the last step (eval losses ${evals.map((e) => e.eval_loss.toFixed(3))})`);
  assert.equal(r.state.best_global_step, best.step);
  assert.equal(r.state.best_metric, best.eval_loss);
  assert.equal(r.state.best_model_checkpoint, path.join(out, `checkpoint-${best.step}`));
  // save_total_limit 1 keeps the newest (to resume from) and the best.
  const kept = (await readdir(out)).filter((n) => n.startsWith('checkpoint-')).sort();
  assert.deepEqual(kept, [`checkpoint-${best.step}`, 'checkpoint-6'].sort());
  const final = await tensors(path.join(out, 'non_lora_trainables.safetensors'));
  const fromBest = await tensors(path.join(out, `checkpoint-${best.step}`, 'non_lora_trainables.safetensors'));
  const fromLast = await tensors(path.join(out, 'checkpoint-6', 'non_lora_trainables.safetensors'));
  for (const [k, t] of final) assert.equal(Buffer.compare(Buffer.from(t.data), Buffer.from(fromBest.get(k)!.data)), 0, `${k} is the best checkpoint's`);
  assert.ok([...final].some(([k, t]) => Buffer.compare(Buffer.from(t.data), Buffer.from(fromLast.get(k)!.data)) !== 0), 'and not the last one');
  assert.ok(lines.some((l) => l.startsWith(`loaded the best model (eval_loss ${best.eval_loss.toFixed(4)} at step ${best.step})`)), lines.join('\n'));
  assert.ok(lines.some((l) => l === `best eval_loss ${best.eval_loss.toFixed(4)} at step ${best.step} (${path.join(out, `checkpoint-${best.step}`)}); loaded into ${out}`), lines.join('\n'));
});

test('--early_stopping_patience stops after that many evaluations without improvement, with a final checkpoint', async () => {
  const out = path.join(await tmpDir(), 'early');
  const lines: string[] = [];
  const r = await runTraining(
    args({ output_dir: out, max_steps: 12, eval_dataset_path: evalFile, eval_steps: 1, metric_for_best_model: 'loss', greater_is_better: true, early_stopping_patience: 2 }),
    (l) => lines.push(l),
  );
  // The loss falls, so (with greater_is_better) evaluation 1 stays the best and evaluations 2 and 3 run out patience.
  assert.equal(r.state.global_step, 3);
  assert.deepEqual(evalsOf(r.state).map((e) => e.step), [1, 2, 3]);
  assert.ok((await readdir(out)).includes('checkpoint-3'));
  assert.ok(lines.some((l) => /^stopped early: no improvement of eval_loss for 2 evaluations \(step 3 of 12\)$/.test(l)), lines.join('\n'));
});

test('without a terminal: one line per logging step with step/total, epoch, loss, lr, grad norm, rows/s, tokens/s, elapsed, ETA — the train_log.jsonl fields', async () => {
  const out = path.join(await tmpDir(), 'lines');
  const lines: string[] = [];
  await runTraining(args({ output_dir: out, max_steps: 4, logging_steps: 2 }), (l) => lines.push(l));
  const re = /^step (\d+)\/(\d+) \((\d+)%\)  epoch (\d+\.\d\d)\/([\d.]+)  loss (\d+\.\d{4})  learning_rate (\S+)  grad_norm (\S+)  rows\/s (\S+)  tokens\/s (\S+)  elapsed (\d+s)  eta (\d+s)$/;
  const parsed = lines.map((l) => re.exec(l)).filter((m): m is RegExpExecArray => m !== null);
  assert.equal(parsed.length, 2, lines.join('\n'));
  const recs = (await records(out)) as (LogEntry & { max_steps: number })[];
  assert.equal(recs.length, 2);
  parsed.forEach((m, i) => {
    const rec = recs[i];
    assert.equal(Number(m[1]), rec.step);
    assert.equal(Number(m[2]), rec.max_steps);
    assert.equal(Number(m[3]), (100 * rec.step) / 4);
    assert.equal(Number(m[4]), Number(rec.epoch.toFixed(2)));
    assert.equal(m[5], '1.33'); // 4 steps of 3 per epoch
    assert.equal(m[6], rec.loss.toFixed(4));
    assert.equal(Number(m[7]), Number(rec.learning_rate.toExponential(2)));
    for (const [text, value] of [[m[8], rec.grad_norm], [m[9], rec.rows_per_second!], [m[10], rec.tokens_per_second]] as const) {
      assert.ok(Math.abs(Number(text) - value) <= 0.01 * Math.abs(value) + 1e-9, `${text} vs ${value}`);
    }
    assert.ok(rec.rows_per_second! > 0 && rec.elapsed_seconds! > 0 && rec.eta_seconds! >= 0);
    assert.equal(m[11], `${Math.round(rec.elapsed_seconds!)}s`);
    assert.equal(m[12], `${Math.round(rec.eta_seconds!)}s`);
  });
  assert.equal(recs[1].eta_seconds, 0);
  // The summary: wall time, rows/s, peak memory.
  assert.ok(lines.some((l) => /^trained 4 steps in \d+s \([\d.]+ rows\/s\), peak memory \d+ MB$/.test(l)), lines.join('\n'));
});

test('flag combinations are said at start in one line each', async () => {
  const out = path.join(await tmpDir(), 'notes');
  const lines: string[] = [];
  await mkdir(out, { recursive: true });
  await runTraining(args({ output_dir: out, max_steps: 1, lora_r: 4, warmup_steps: 1, warmup_ratio: 0.5, eval_steps: 3, evaluation_strategy: 'no' }), (l) => lines.push(l));
  const notes = lines.filter((l) => l.startsWith('note: '));
  assert.deepEqual(notes, [
    'note: --lora_r has no effect without --lora_enable (no LoRA adapter is trained)',
    'note: --warmup_ratio 0.5 is ignored: --warmup_steps 1 takes precedence (as in HF)',
    'note: --eval_steps has no effect: evaluation is off (--evaluation_strategy no)',
  ]);
  await assert.rejects(runTraining(args({ output_dir: out, evaluation_strategy: 'steps' }), () => {}), /--evaluation_strategy steps needs held-out rows: pass --eval_dataset_path/);
  await assert.rejects(
    runTraining(args({ output_dir: out, eval_dataset_path: evalFile, metric_for_best_model: 'accuracy', max_steps: 1 }), () => {}),
    /--metric_for_best_model accuracy: the evaluation has no such metric \(available: loss, exact_match, exact_match_even, exact_match_odd\)/,
  );
});
