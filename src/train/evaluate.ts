/**
 * Evaluation during training: the loss on held-out rows (always), and for held-out sets with short reference
 * answers the exact-match accuracy per question type (the table `multi-token eval` prints), as one
 * `EvalLogEntry` with the HF Trainer's `eval_*` names. Shared by Node and the browser; runs without dropout and
 * without touching the trainer's random generators, so evaluating does not change the training trajectory.
 */
import type { EncodedChat } from '../chat/encode-chat.js';
import { collate } from '../data/collate.js';
import type { BatchFeatures, LMM } from '../lmm/lmm.js';
import { accuracyByType, type EvalItem } from '../eval/accuracy.js';
import { answerQuestions, type Question } from '../eval/exact-match.js';
import type { FeatureBatch } from './feature-cache.js';
import type { EvalLogEntry } from './trainer.js';
import { appendAll } from '../util/arrays.js';

export interface EvaluatorOptions {
  /** Rows per forward pass (`per_device_eval_batch_size`). */
  batchSize: number;
  modelMaxLength: number;
  /** Computed features for eval rows (a feature cache when the encoders are frozen). */
  features: (batch: FeatureBatch) => Promise<BatchFeatures>;
  /** Questions for exact match; omit for loss only (long free-form answers). */
  questions?: Question[];
  maxNewTokens?: number;
  onProgress?(phase: 'loss' | 'answers', done: number, total: number): void;
}

export interface EvalResult {
  entry: EvalLogEntry;
  /** Each question with the model's answer (exact-match runs only). */
  items: EvalItem[];
}

export class Evaluator {
  /** Rows dropped because `model_max_length` would cut a placeholder run (the trainer skips them too). */
  readonly skipped: { id: string; reason: string }[] = [];
  private readonly batches: ReturnType<typeof collate>['batch'][] = [];

  constructor(
    readonly lmm: LMM,
    readonly rows: EncodedChat[],
    readonly options: EvaluatorOptions,
  ) {
    if (rows.length === 0) throw new Error('no evaluation rows');
    // Batches are fixed: the same rows in the same order at every evaluation, so values compare across steps.
    for (let i = 0; i < rows.length; i += Math.max(1, options.batchSize)) {
      const { batch, skipped } = collate(rows.slice(i, i + Math.max(1, options.batchSize)), {
        maxLength: options.modelMaxLength,
        padTokenId: lmm.tokenizer.padTokenId,
        tokenWidths: lmm.tokenWidths,
      });
      appendAll(this.skipped, skipped);
      if (batch) this.batches.push(batch);
    }
    if (this.batches.length === 0) throw new Error(`no evaluation row fits model_max_length ${options.modelMaxLength}`);
  }

  /** Label-token-weighted mean loss over every eval row. */
  private async loss(): Promise<number> {
    let sum = 0;
    let count = 0;
    for (let b = 0; b < this.batches.length; b++) {
      const batch = this.batches[b]!;
      const features = await this.options.features(batch);
      const { loss, logits, count: n } = this.lmm.forward(batch, features, false);
      logits.dispose();
      const value = (await loss.data())[0];
      loss.dispose();
      for (const f of features) f?.dispose();
      sum += value * n;
      count += n;
      this.options.onProgress?.('loss', b + 1, this.batches.length);
    }
    return count ? sum / count : NaN;
  }

  /** Evaluates the model as it is now; `step`/`epoch` label the entry. */
  async evaluate(step: number, epoch: number): Promise<EvalResult> {
    const t0 = performance.now();
    const evalLoss = await this.loss();
    const entry: EvalLogEntry = { step, epoch: Number(epoch.toFixed(4)), eval_loss: evalLoss, eval_samples: 0, eval_runtime: 0, eval_samples_per_second: 0 };
    let items: EvalItem[] = [];
    const qs = this.options.questions;
    if (qs?.length) {
      items = await answerQuestions(this.lmm, qs, {
        batchSize: this.options.batchSize,
        maxNewTokens: this.options.maxNewTokens ?? 24,
        features: this.options.features,
        onProgress: (d, t) => this.options.onProgress?.('answers', d, t),
      });
      const table = accuracyByType(items);
      entry.eval_exact_match = table.overall.accuracy;
      entry.eval_exact_match_by_type = Object.fromEntries(table.rows.map((r) => [r.type, { n: r.n, correct: r.correct, accuracy: r.accuracy }]));
    }
    const seconds = (performance.now() - t0) / 1000;
    entry.eval_samples = this.rows.length - this.skipped.length;
    entry.eval_runtime = Number(seconds.toFixed(3));
    entry.eval_samples_per_second = Number((entry.eval_samples / Math.max(seconds, 1e-9)).toFixed(3));
    return { entry, items };
  }
}
