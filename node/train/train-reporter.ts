/**
 * What a training run tells the person watching it, in one place: each logging step and evaluation goes to
 * `train_log.jsonl` (one JSON record per line, HF `log_history` names plus `max_steps`), redraws `loss.svg`,
 * and is printed — above the progress bar on a terminal, as one self-contained line elsewhere. Ends with a
 * summary (wall time, rows/s, peak memory, best metric and where it is).
 */
import { appendFile, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { formatEvalLine, formatSummary, formatTrainLine, type RunShape, type RunSummary } from '../../src/train/log-format.js';
import { lossCurveSVG, type Point } from '../../src/train/loss-plot.js';
import type { EvalLogEntry, LogEntry } from '../../src/train/trainer.js';
import type { TrainProgress } from './progress.js';
import type { EvalReport } from './train-eval.js';

export class TrainReporter {
  private chain: Promise<void> = Promise.resolve();
  private readonly started = performance.now();
  private rows = 0;
  private steps = 0;
  private evalSeconds = 0;

  constructor(
    private readonly o: {
      out: string;
      log: (line: string) => void;
      progress: TrainProgress;
      run: RunShape;
      history: () => Point[];
      /** The best evaluation's step so far, marked on the plot. */
      bestStep?: () => number | undefined;
      /** Name of the metric that picks the best model, for the `best` mark on eval lines. */
      metric?: string;
    },
  ) {}

  /** A line for the person watching: above the bar on a terminal, else through `log`. */
  print(line: string): void {
    if (this.o.progress.enabled) this.o.progress.log(line);
    else this.o.log(line);
  }

  /** Writes are queued so records land in order and `loss.svg` is never written twice at once. */
  private record(entry: LogEntry | EvalLogEntry): void {
    const line = JSON.stringify({ ...entry, max_steps: this.o.run.maxSteps }) + '\n';
    const svg = lossCurveSVG(this.o.history(), { bestStep: this.o.bestStep?.() });
    this.chain = this.chain.then(async () => {
      await appendFile(path.join(this.o.out, 'train_log.jsonl'), line);
      await writeFile(path.join(this.o.out, 'loss.svg'), svg);
    });
  }

  /** One optimizer step done, over `rows` rows. */
  stepDone(rows: number): void {
    this.rows += rows;
    this.steps++;
  }

  onLog(entry: LogEntry): void {
    this.record(entry);
    if (!this.o.progress.enabled) this.o.log(formatTrainLine(entry, this.o.run));
  }

  onEvalStart(step: number, rows: number, questions: number): void {
    if (this.o.progress.enabled) this.o.progress.phase(`evaluating ${rows} rows`);
    else this.o.log(`eval step ${step}/${this.o.run.maxSteps}: loss on ${rows} rows${questions ? `, answering ${questions} questions` : ''} …`);
  }

  onEvalProgress(phase: 'loss' | 'answers', done: number, total: number): void {
    this.o.progress.phase(`eval ${phase} ${done}/${total}`);
  }

  onEval(r: EvalReport): void {
    this.evalSeconds += r.entry.eval_runtime;
    this.record(r.entry);
    this.o.progress.phase('');
    this.print(formatEvalLine(r.entry, this.o.run, r.best?.improved ? `best ${this.o.metric ?? 'eval_loss'} so far` : ''));
  }

  /** Waits for queued file writes. */
  flush(): Promise<void> {
    return this.chain;
  }

  /** The closing lines (see `formatSummary`). */
  summary(extra: Pick<RunSummary, 'best' | 'stoppedEarly'>): string[] {
    const wall = (performance.now() - this.started) / 1000;
    const lines = formatSummary({
      steps: this.steps,
      wallSeconds: wall,
      rowsPerSecond: this.rows / Math.max(wall - this.evalSeconds, 1e-9),
      peakBytes: process.resourceUsage().maxRSS * 1024,
      ...extra,
    });
    if (this.evalSeconds > 0) lines[0] += ` — ${Math.round((100 * this.evalSeconds) / Math.max(wall, 1e-9))}% of the time evaluating`;
    return lines;
  }
}
