/**
 * The training progress bar on a terminal: step, epoch, loss, learning rate, tokens/s and ETA (cli-progress),
 * with evaluation progress shown in the same bar and log lines (evaluations, notes) printed above it. Off when
 * stderr is not a terminal: the run then prints one line per logging step instead (see `log-format.ts`).
 */
import cliProgress from 'cli-progress';

export class TrainProgress {
  private bar: cliProgress.SingleBar | null = null;
  private tokens = 0;
  private seconds = 0;

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

  update(step: number, last: { loss: number; lr: number; tokens: number; seconds: number; epoch?: number }): void {
    this.tokens += last.tokens;
    this.seconds += last.seconds;
    this.bar?.update(step, {
      loss: last.loss.toFixed(4),
      lr: last.lr.toExponential(2),
      tps: (this.tokens / Math.max(this.seconds, 1e-9)).toFixed(0),
      epoch: last.epoch === undefined ? '-' : last.epoch.toFixed(2),
      phase: '',
    });
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
