/**
 * "Train on your pictures": the panel that finetunes the loaded model in the tab — projector only or LoRA —
 * with a live loss curve, progress and ETA, stop and continue, checkpoints in the browser's private storage
 * (a reload offers to resume), and a download of the files `multi-token train` writes. The chat uses the
 * weights as they train. Nothing it is given leaves the page.
 */
import type { LoadedModel } from '../model-loader.js';
import { GpuLMM } from '../../../src/webgpu/gpu-lmm.js';
import { modalityInputs } from '../modality-inputs.js';
import { byId, errorMessage, notice, clearNotice } from '../ui.js';
import { lossCurveSVG, type Point } from '../../../src/train/loss-plot.js';
import { readJSON } from '../../../src/io/source.js';
import { trainEntries, type TrainerState } from '../../../src/train/trainer.js';
import { ExamplesView } from './examples-view.js';
import { RunStore, type StoredCheckpoint, type TrainSettings } from './run-store.js';
import { TrainSession, type StartFrom } from './session.js';
import { saveBytes, zipFolder } from './download.js';

type PanelState = 'idle' | 'running' | 'done' | 'stopped' | 'error';

/** `1:05`, `12 s`. */
function formatEta(seconds: number): string {
  if (!Number.isFinite(seconds)) return '–';
  const s = Math.round(seconds);
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

export class TrainPanel {
  private session: TrainSession | null = null;
  private stored: StoredCheckpoint | null = null;
  private running: AbortController | null = null;
  private done: Promise<void> = Promise.resolve();
  private points: Point[] = [];
  private readonly root = byId<HTMLDetailsElement>('train');
  private readonly view = new ExamplesView(() => this.refresh());

  /** `onWeightsChanged` hears which weights the chat now uses ("the weights trained in this tab (step 6)"). */
  constructor(private readonly onWeightsChanged: (what: string) => void) {
    byId('train-start').addEventListener('click', () => void this.start(this.canContinue() ? { kind: 'continue' } : { kind: 'fresh' }));
    byId('train-restart').addEventListener('click', () => void this.start({ kind: 'fresh' }));
    byId('train-resume').addEventListener('click', () => this.stored && void this.start({ kind: 'checkpoint', checkpoint: this.stored }));
    byId('train-stop').addEventListener('click', () => this.running?.abort());
    byId('train-download').addEventListener('click', () => void this.download());
    byId('train-original').addEventListener('click', () => this.useOriginal());
    byId('train-forget').addEventListener('click', () => void this.forget());
    for (const id of ['train-steps', 'train-rank']) byId(id).addEventListener('input', () => this.refresh());
    for (const r of document.querySelectorAll<HTMLInputElement>('input[name="train-mode"]')) r.addEventListener('change', () => this.refresh());
  }

  /** Whether a training run is going (the chat waits for it). */
  get busy(): boolean {
    return this.running !== null;
  }

  /** A model was loaded: offer training if it reads pictures, and find a run stored for it. */
  async attach(m: LoadedModel): Promise<void> {
    await this.detach();
    // A model on the WebGPU engine (quantized, gpu-loader.ts) holds its LM packed and frozen outside tfjs: the
    // trainer has nothing it could update there, so the panel offers training for tfjs models only.
    const lmm = m.lmm instanceof GpuLMM ? null : m.lmm;
    const image = lmm ? (modalityInputs(lmm.modalities).inputs.find((i) => i.kind === 'image') ?? null) : null;
    this.root.hidden = !image;
    this.view.configure(image);
    if (!image || !lmm) return;
    let store: RunStore | null = null;
    try {
      store = await RunStore.open(m.location);
    } catch (e) {
      notice('warn', `Training works, but checkpoints cannot be kept in this browser: ${errorMessage(e)}`, 'train-store');
    }
    this.session = new TrainSession(lmm, m.source, m.location, image, store);
    this.points = [];
    this.setState('idle', 'not trained yet');
    try {
      const run = await store?.loadRun();
      if (run) {
        this.view.set(run.examples);
        this.applySettings(run.settings);
      }
      this.stored = (await store?.latestCheckpoint()) ?? null;
      if (this.stored) {
        const state = await readJSON<TrainerState>(this.stored.source, 'trainer_state.json');
        const logged = trainEntries(state.log_history);
        this.points = logged.map((e) => ({ step: e.step, loss: e.loss }));
        const last = logged[logged.length - 1];
        byId('train-stored-text').textContent = `A training run of this model is stored in this browser: step ${state.global_step}` +
          ` of ${state.max_steps}${last ? `, loss ${last.loss.toFixed(4)}` : ''}. Resume applies its weights and continues to the steps set below.`;
        this.drawCurve();
      }
    } catch (e) {
      notice('warn', `The training run stored in this browser could not be read: ${errorMessage(e)}`, 'train-store');
      this.stored = null;
    }
    this.refresh();
    this.root.dataset.ready = 'true';
  }

  /** Stops training and lets go of the model (before another model replaces it). */
  async detach(): Promise<void> {
    delete this.root.dataset.ready;
    this.running?.abort();
    await this.done;
    this.session?.dispose();
    this.session = null;
    this.stored = null;
  }

  private settings(): TrainSettings {
    const num = (id: string, lo: number, fallback: number) => {
      const v = Number(byId<HTMLInputElement>(id).value);
      return Number.isFinite(v) && v >= lo ? v : fallback;
    };
    const mode = document.querySelector<HTMLInputElement>('input[name="train-mode"]:checked')?.value === 'lora' ? 'lora' : 'projector';
    return {
      mode,
      rank: Math.round(num('train-rank', 1, 8)),
      steps: Math.round(num('train-steps', 1, 20)),
      learningRate: num('train-lr', 0, 1e-3),
      batchSize: Math.round(num('train-batch', 1, 4)),
    };
  }

  private applySettings(s: TrainSettings): void {
    for (const r of document.querySelectorAll<HTMLInputElement>('input[name="train-mode"]')) r.checked = r.value === s.mode;
    byId<HTMLInputElement>('train-rank').value = String(s.rank);
    byId<HTMLInputElement>('train-steps').value = String(s.steps);
    byId<HTMLInputElement>('train-lr').value = String(s.learningRate);
    byId<HTMLInputElement>('train-batch').value = String(s.batchSize);
  }

  private async start(from: StartFrom): Promise<void> {
    const session = this.session;
    if (!session || this.running) return;
    clearNotice('train');
    const settings = this.settings();
    const ctl = new AbortController();
    this.running = ctl;
    let finish!: () => void;
    this.done = new Promise((ok) => (finish = ok));
    this.view.lock(true);
    this.refresh(); // Stop instead of Train
    if (from.kind !== 'continue') this.points = from.kind === 'checkpoint' ? this.points : [];
    const t0 = performance.now();
    let firstStep = -1;
    let stepsRun = 0;
    this.setState('running', from.kind === 'checkpoint' ? `resuming from step ${from.checkpoint.step}…` : 'preparing (encoding the pictures)…');
    try {
      const state = await session.run(this.view.examples, settings, from, {
        onStep: (step, total) => {
          if (firstStep < 0) firstStep = step - 1;
          stepsRun = step - firstStep;
          byId<HTMLProgressElement>('train-progress').max = total;
          byId<HTMLProgressElement>('train-progress').value = step;
          this.root.dataset.step = String(step);
        },
        onLosses: (stats) => {
          for (const s of stats) this.points.push({ step: s.step, loss: s.loss });
          const last = stats[stats.length - 1];
          const perStep = (performance.now() - t0) / 1000 / Math.max(1, stepsRun);
          const total = byId<HTMLProgressElement>('train-progress').max;
          byId('train-status').textContent = `step ${last.step}/${total} · loss ${last.loss.toFixed(4)} · ${perStep.toFixed(1)} s/step · ETA ${formatEta((total - last.step) * perStep)}`;
          this.drawCurve();
        },
        onSaved: (step) => {
          byId('train-saved').textContent = `checkpoint of step ${step} kept in this browser`;
        },
      }, ctl.signal);
      this.stored = null;
      const last = trainEntries(state.log_history).at(-1);
      const how = last ? `, loss ${last.loss.toFixed(4)}` : '';
      if (ctl.signal.aborted) this.setState('stopped', `stopped at step ${state.global_step}${how}; Continue picks up from there`);
      else this.setState('done', `done: step ${state.global_step}${how}. The chat now answers with the trained weights.`);
      this.onWeightsChanged(`the weights trained in this tab (step ${state.global_step})`);
    } catch (e) {
      this.setState('error', `training failed: ${errorMessage(e)}`);
      notice('error', `Training: ${errorMessage(e)}`, 'train');
    } finally {
      this.running = null;
      this.view.lock(false);
      this.refresh();
      finish();
    }
  }

  private async download(): Promise<void> {
    const session = this.session;
    if (!session?.current) return;
    const btn = byId<HTMLButtonElement>('train-download');
    btn.disabled = true;
    try {
      const files = await session.resultFiles();
      const base = session.location.replace(/\/+$/, '').split('/').pop()?.replace(/[^\w.-]+/g, '-') || 'model';
      const folder = `${base}-trained-step${session.current.state.global_step}`;
      saveBytes(zipFolder(folder, files), `${folder}.zip`);
    } catch (e) {
      notice('error', `Download: ${errorMessage(e)}`, 'train');
    } finally {
      this.refresh();
    }
  }

  private useOriginal(): void {
    if (!this.session || this.running) return;
    this.session.resetWeights();
    this.points = [];
    this.drawCurve();
    this.setState('idle', 'using the model as loaded (the stored run is kept: Resume brings it back)');
    this.onWeightsChanged('its weights as loaded');
    void this.session.store?.latestCheckpoint().then((c) => {
      this.stored = c;
      this.refresh();
    });
  }

  private async forget(): Promise<void> {
    await this.session?.store?.clear();
    this.stored = null;
    this.refresh();
  }

  private setState(state: PanelState, text: string): void {
    this.root.dataset.state = state;
    byId('train-status').textContent = text;
  }

  private drawCurve(): void {
    const box = byId('train-curve');
    box.dataset.losses = JSON.stringify(this.points.map((p) => Number((p.loss ?? NaN).toFixed(6))));
    box.dataset.steps = JSON.stringify(this.points.map((p) => p.step));
    // Our own SVG (numbers and an escaped title), not user text.
    box.innerHTML = this.points.length ? lossCurveSVG(this.points, { title: 'loss', width: 480, height: 200 }) : '';
  }

  /** Whether "Train" continues this tab's run (same mode and rank) rather than starting over. */
  private canContinue(): boolean {
    const current = this.session?.current;
    const settings = this.settings();
    return !!current && current.settings.mode === settings.mode && current.settings.rank === settings.rank;
  }

  /** Buttons and labels for the current state. */
  private refresh(): void {
    const s = this.session;
    const settings = this.settings();
    const current = s?.current ?? null;
    const running = this.running !== null;
    const canContinue = this.canContinue();
    const start = byId<HTMLButtonElement>('train-start');
    const reached = canContinue && current!.state.global_step >= settings.steps;
    start.textContent = reached ? `Trained to step ${current!.state.global_step} (raise Steps to continue)` : canContinue ? `Continue to step ${settings.steps}` : 'Train';
    start.disabled = running || !s || this.view.examples.length === 0 || reached;
    start.hidden = running;
    byId('train-stop').hidden = !running;
    byId('train-restart').hidden = running || !current;
    byId<HTMLButtonElement>('train-download').disabled = running || !current;
    byId('train-original').hidden = running || !s?.changed;
    byId('train-stored').hidden = running || !this.stored || !!current;
    byId<HTMLInputElement>('train-rank').disabled = settings.mode !== 'lora';
  }
}
