/**
 * The training progress bar: step, loss, learning rate, tokens/s and ETA (cli-progress). Off when stderr is
 * not a terminal (CI logs get one line per logging step instead). The step count moves every step; loss and
 * tokens/s change at logging steps, when the trainer reads them from the device (as HF's progress bar does).
 */
import cliProgress from 'cli-progress';

export class TrainProgress {
  private bar: cliProgress.SingleBar | null = null;
  constructor(total: number, start: number, readonly enabled: boolean) {
    if (!enabled) return;
    this.bar = new cliProgress.SingleBar(
      {
        format: 'train |{bar}| {value}/{total} steps | loss {loss} | lr {lr} | {tps} tok/s | ETA {eta_formatted}',
        hideCursor: true,
        etaBuffer: 20,
        stream: process.stderr,
      },
      cliProgress.Presets.shades_classic,
    );
    this.bar.start(total, start, { loss: '-', lr: '-', tps: '-' });
  }

  /** After each step. */
  update(step: number, last: { lr: number }): void {
    this.bar?.update(step, { lr: last.lr.toExponential(2) });
  }

  /** At each logging step. */
  log(entry: { loss: number; tokens_per_second: number }): void {
    this.bar?.update({ loss: entry.loss.toFixed(4), tps: entry.tokens_per_second.toFixed(0) });
  }

  stop(): void {
    this.bar?.stop();
    this.bar = null;
  }
}
