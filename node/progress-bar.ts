/**
 * A progress bar for long non-training work (quantizing, writing or loading a real-size model): done/total in
 * the caller's unit, rate and ETA (cli-progress). Off when stderr is not a terminal; then nothing is printed.
 */
import cliProgress from 'cli-progress';

export class ProgressBar {
  private bar: cliProgress.SingleBar | null = null;

  /** `unit` is shown after the counts (e.g. "MB", "tensors"). */
  constructor(label: string, total: number, unit: string, enabled = !!process.stderr.isTTY) {
    if (!enabled || total <= 0) return;
    this.bar = new cliProgress.SingleBar(
      {
        format: `${label} |{bar}| {value}/{total} ${unit} | {speed} ${unit}/s | ETA {eta_formatted}`,
        hideCursor: true,
        etaBuffer: 50,
        stream: process.stderr,
      },
      cliProgress.Presets.shades_classic,
    );
    this.bar.start(Math.round(total), 0, { speed: '-' });
  }

  private readonly started = performance.now();

  update(done: number): void {
    if (!this.bar) return;
    const seconds = (performance.now() - this.started) / 1000;
    this.bar.update(Math.round(done), { speed: seconds > 0 ? (done / seconds).toFixed(1) : '-' });
  }

  stop(): void {
    this.bar?.stop();
    this.bar = null;
  }
}
