/**
 * The training progress bar: step, loss, learning rate, tokens/s and ETA (cli-progress). Off when stderr is
 * not a terminal (CI logs get one line per logging step instead).
 */
import cliProgress from 'cli-progress';

export class TrainProgress {
  private bar: cliProgress.SingleBar | null = null;
  private tokens = 0;
  private seconds = 0;

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

  update(step: number, last: { loss: number; lr: number; tokens: number; seconds: number }): void {
    this.tokens += last.tokens;
    this.seconds += last.seconds;
    this.bar?.update(step, { loss: last.loss.toFixed(4), lr: last.lr.toExponential(2), tps: (this.tokens / Math.max(this.seconds, 1e-9)).toFixed(0) });
  }

  stop(): void {
    this.bar?.stop();
    this.bar = null;
  }
}
