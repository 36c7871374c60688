/**
 * The training progress bar on a terminal: step, epoch, loss, learning rate, tokens/s and ETA (cli-progress),
 * with evaluation progress shown in the same bar and log lines (evaluations, notes) printed above it. Off when
 * stderr is not a terminal: the run then prints one line per logging step instead (see `log-format.ts`).
 * The step count moves every step; loss and tokens/s change at logging steps, when the trainer reads them
 * from the device (as HF's progress bar does).
 */
import cliProgress from 'cli-progress';

export class TrainProgress {
  private bar: cliProgress.SingleBar | null = null;
  constructor(
    total: number,
    start: number,
    readonly enabled: boolean,
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {
    if (!enabled) return;
    this.bar = new cliProgress.SingleBar(
      {
        format: 'train |{bar}| {value}/{total} steps | epoch {epoch} | loss {loss} | lr {lr} | {tps} tok/s | ETA {eta_formatted}{phase}',
        hideCursor: true,
        etaBuffer: 20,
        stream,
      },
      cliProgress.Presets.shades_classic,
    );
    this.bar.start(total, start, { loss: '-', lr: '-', tps: '-', epoch: '-', phase: '' });
  }

  /** After each step. */
  update(step: number, last: { lr: number; epoch?: number }): void {
    this.bar?.update(step, { lr: last.lr.toExponential(2), epoch: last.epoch === undefined ? '-' : last.epoch.toFixed(2) });
  }

  /** At each logging step, with the losses read from the device. */
  logged(entry: { loss: number; tokens_per_second: number }): void {
    this.bar?.update({ loss: entry.loss.toFixed(4), tps: entry.tokens_per_second.toFixed(0) });
  }

  /** Shows what the run is doing between steps (`evaluating: answers 120/2000`); '' clears it. */
  phase(text: string): void {
    if (!this.bar) return;
    this.bar.update({ phase: text ? ` | ${text}` : '' });
    this.redraw();
  }

  /** Prints a line above the bar (or plainly when there is no bar). */
  log(line: string): void {
    if (!this.bar) {
      this.stream.write(line + '\n');
      return;
    }
    this.stream.write('\r\x1b[2K' + line + '\n');
    this.redraw();
  }

  private redraw(): void {
    // cli-progress redraws only when its text changed; after a line above it, the bar must be drawn again.
    (this.bar as unknown as { lastDrawnString: string | null }).lastDrawnString = null;
    this.bar?.render();
  }

  stop(): void {
    this.bar?.stop();
    this.bar = null;
  }
}
