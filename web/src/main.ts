/**
 * The demo page: pick a backend, load a model, chat with it about images, audio and documents.
 *
 * The page opens ready: without other instructions it loads the bundled demo model by itself (from the browser
 * cache after the first visit), and the loader panel stays one click away for any other model.
 *
 * Query parameters (for links and tests): `model=<url>` loads that model at start instead; `autoload=0` loads
 * nothing by itself; `backend=webgpu|wasm|webgl|cpu` forces a backend; `demo=<url>` overrides the bundled demo
 * model's location; `maxNewTokens=<n>`, `temperature=<t>` and `seed=<n>` preset sampling.
 */
import './style.css';
import type { BackendName } from '../../src/backend.js';
import { PromptTooLongError } from '../../src/lmm/generate.js';
import { initBrowserBackend, type BackendSetup } from './backend-setup.js';
import { LoaderPanel } from './loader-panel.js';
import { listCachedModels, urlCacheKey } from './model-cache.js';
import { loadModel, formatBytes, type LoadedModel, type ModelChoice } from './model-loader.js';
import { modalityInputs, describeKinds } from './modality-inputs.js';
import { Composer } from './composer.js';
import { showExamples } from './examples.js';
import { ChatView, formatMs, formatStats } from './chat-view.js';
import { buildRow, explainItemError, type ItemRef, type Turn } from './conversation.js';
import { answer, type AnswerSettings, type AnswerStats } from './generation.js';
import { answerGpu } from './gpu-generation.js';
import { gpuOptionsFrom } from './gpu-loader.js';
import { GpuLMM } from '../../src/webgpu/gpu-lmm.js';
import { byId, clearNotice, errorMessage, notice } from './ui.js';
import { TrainPanel } from './train/panel.js';

const params = new URLSearchParams(location.search);
const demoUrl = params.get('demo') ?? document.querySelector<HTMLMetaElement>('meta[name="multi-token:demo-model"]')?.content ?? 'models/demo/';

let setup: BackendSetup | null = null;
let model: LoadedModel | null = null;
let turns: Turn[] = [];
let running: AbortController | null = null;
/** Settles when the answer in progress has released its tensors (a model must not be disposed before). */
let runningDone: Promise<void> = Promise.resolve();
let loading = false;
/** A model chosen while another was loading: loaded next (the latest choice wins), never dropped. */
let pendingChoice: ModelChoice | null = null;

const chat = new ChatView();
const composer = new Composer(() => void send(), () => running?.abort());
const panel = new LoaderPanel({ demoUrl, onChoose: (c) => void load(c) });
const trainPanel = new TrainPanel((what) => chat.addSystem(`The model now answers with ${what}.`));
byId('new-chat').addEventListener('click', () => newChat());

const seedParam = params.get('seed');

for (const [param, id] of [['maxNewTokens', 'max-tokens'], ['temperature', 'temperature']] as const) {
  const v = params.get(param);
  if (v !== null) byId<HTMLInputElement>(id).value = v;
}

/** The backend is chosen before any model loads: weights are uploaded to whichever backend is active then. */
const backendReady = startBackend();

async function startBackend(): Promise<void> {
  const badge = byId('backend');
  try {
    const force = (params.get('backend') || undefined) as BackendName | undefined;
    setup = await initBrowserBackend({ force, onLog: (line) => console.info(`[multi-token] ${line}`) });
  } catch (e) {
    badge.textContent = 'no backend';
    notice('error', `No compute backend could start: ${errorMessage(e)}`, 'backend');
    throw e;
  }
  badge.textContent = setup.name;
  badge.dataset.backend = setup.name;
  byId('backend-detail').textContent = setup.summary;
  byId('backend-detail').title = setup.summary;
  const gpu = setup.skipped.find((s) => s.name === 'webgpu');
  if (gpu) {
    const where = setup.name === 'wasm' ? 'on the CPU (WebAssembly)' : `on ${setup.name}`;
    notice('warn', `No WebGPU in this browser: models run ${where}, which is slower but works.`, 'backend',
      `Why: ${gpu.reason}. Chrome and Edge 113+ and Safari 26+ have WebGPU.`);
  }
}

async function load(choice: ModelChoice): Promise<void> {
  if (loading) {
    pendingChoice = choice;
    return;
  }
  loading = true;
  panel.setBusy(true);
  panel.startProgress();
  clearNotice('load');
  const where = choice.kind === 'url' ? choice.url : choice.kind === 'folder' ? choice.source.location : choice.location;
  try {
    await backendReady;
    const loaded = await loadModel(choice, { useCache: panel.useCache, onProgress: (p) => panel.progress(p), gpu: gpuOptionsFrom(params) });
    running?.abort();
    await runningDone; // the aborted answer stops at its next token; only then may its model go
    await trainPanel.detach(); // likewise a training run (it stops after its current step)
    model?.lmm.dispose();
    model = loaded;
    onModelLoaded(loaded);
  } catch (e) {
    panel.finishProgress('failed');
    notice('error', `Could not load the model from ${where}: ${errorMessage(e)}`, 'load');
  } finally {
    loading = false;
    panel.setBusy(false);
    const next = pendingChoice;
    pendingChoice = null;
    if (next) void load(next);
  }
}

function onModelLoaded(m: LoadedModel): void {
  const { inputs, unsupported } = modalityInputs(m.lmm.modalities);
  const c = m.cache;
  let how = `${formatBytes(m.bytes)} in ${formatMs(m.ms)}`;
  if (c && c.misses === 0 && c.hits > 0) how += ` · from the browser cache (${c.hits} files)`;
  else if (c && c.hits > 0) how += ` · ${c.hits} files from the browser cache, ${c.misses} downloaded`;
  else if (c) how += ' · saved to the browser cache for next time';
  if (m.gpuBytes !== null) how += ` · ${formatBytes(m.gpuBytes)} of GPU memory (WebGPU engine)`;
  panel.finishProgress(`loaded ${how}`);
  showGpuMemory(m.gpuBytes);
  byId('cache-state').textContent = c ? (c.misses === 0 && c.hits > 0 ? 'cache: used' : 'cache: stored') : 'cache: off';
  byId('cache-state').dataset.cache = c ? (c.misses === 0 && c.hits > 0 ? 'hit' : 'stored') : 'off';
  if (m.cacheWarning) notice('warn', `The model loaded but is not cached: ${m.cacheWarning}`, 'cache');
  byId('model-name').textContent = m.location;
  byId('model-name').title = m.location;
  byId<HTMLDetailsElement>('loader').open = false;
  byId('loader-summary').textContent = `Model: ${m.location}`;
  composer.configure(inputs);
  const demo = isDemo(m);
  // The demo model was trained to answer one way (greedy); sampling only makes its answers worse.
  if (demo && params.get('temperature') === null) byId<HTMLInputElement>('temperature').value = '0';
  void showExamples(demo && inputs.some((i) => i.kind === 'image'), (file, question) => {
    newChat(); // the demo model was trained on one-question conversations
    composer.useExample(file, question);
  });
  newChat();
  const extra = unsupported.length ? ` (${unsupported.join(', ')} cannot be fed from this page)` : '';
  chat.addSystem(`Loaded ${m.location} (${how}). It reads ${describeKinds(inputs.map((i) => i.kind))}${extra}.`);
  document.body.dataset.model = 'ready';
  void panel.refreshCached();
  void trainPanel.attach(m);
}

/** Whether `m` is the bundled demo model (loaded from its URL or from the browser cache). */
function isDemo(m: LoadedModel): boolean {
  const strip = (u: string) => u.replace(/\/+$/, '');
  return strip(m.location) === strip(new URL(demoUrl, location.href).href);
}

function newChat(): void {
  running?.abort();
  turns = [];
  chat.clear();
}

function settings(): AnswerSettings {
  const num = (id: string, fallback: number) => {
    const v = Number(byId<HTMLInputElement>(id).value);
    return Number.isFinite(v) ? v : fallback;
  };
  return {
    maxNewTokens: Math.max(1, Math.round(num('max-tokens', 128))),
    temperature: Math.max(0, num('temperature', 0.7)),
    topP: num('top-p', 0.95),
    seed: seedParam === null ? undefined : Number(seedParam),
  };
}

function send(): Promise<void> {
  if (!model || running) return Promise.resolve();
  if (trainPanel.busy) {
    notice('info', 'Training is running on this model: stop it, or wait for it to finish, to chat.', 'send');
    return Promise.resolve();
  }
  runningDone = runAnswer(model);
  return runningDone;
}

async function runAnswer(m: LoadedModel): Promise<void> {
  const draft = composer.take();
  if (!draft) return;
  // This answer's conversation: "New chat" during it starts a fresh list, which the late reply must not join.
  const conv = turns;
  const turn: Turn = { role: 'user', text: draft.text, attachments: draft.attachments };
  conv.push(turn);
  const userEl = chat.addUser(turn);
  const view = chat.startAnswer();
  const ctl = new AbortController();
  running = ctl;
  composer.setBusy(true);
  clearNotice('send');
  clearNotice('attach');
  let refs: ItemRef[] = [];
  let text = '';
  try {
    const built = await buildRow(conv);
    refs = built.refs;
    const onDelta = (delta: string, s: AnswerStats) => {
      text += delta;
      view.append(delta);
      byId('stats').textContent = statsLine(m, s);
    };
    const stats = m.lmm instanceof GpuLMM
      ? await answerGpu(m.lmm, built.row, settings(), onDelta, ctl.signal)
      : await answer(m.lmm, built.row, settings(), onDelta, ctl.signal);
    view.finish(stats);
    byId('stats').textContent = statsLine(m, stats);
    conv.push({ role: 'assistant', text, attachments: [] });
  } catch (e) {
    // The turn did not happen: take it back and return the draft, so the user can fix what the error names.
    conv.pop();
    userEl.remove();
    view.remove();
    composer.restore(draft);
    const hint = e instanceof PromptTooLongError ? ' Start a new chat to free the context.' : '';
    notice('error', `${explainItemError(errorMessage(e), refs)}${hint}`, 'send');
  } finally {
    running = null;
    composer.setBusy(false);
  }
}

/**
 * Loads the bundled demo model if this server has one: straight from the browser cache when an earlier visit
 * stored it (no request at all), else after a HEAD request for its config.json shows it is served. A page
 * served without the demo model (a static build elsewhere) just waits for the user's choice.
 */
async function loadDemoIfServed(): Promise<void> {
  const cached = await listCachedModels().catch(() => []);
  const key = urlCacheKey(demoUrl);
  const served = cached.some((c) => c.key === key) || (await fetch(new URL('config.json', key), { method: 'HEAD' }).then((r) => r.ok, () => false));
  if (served && !model && !loading) await load({ kind: 'url', url: demoUrl });
}

/** The footer's GPU-memory figure (hidden on the tfjs path); `data-bytes` holds the exact count. */
function showGpuMemory(bytes: number | null): void {
  const el = byId('gpu-memory');
  el.hidden = bytes === null;
  el.textContent = bytes === null ? '' : `GPU memory: ${formatBytes(bytes)}`;
  el.dataset.bytes = bytes === null ? '' : String(bytes);
}

/** The footer's speed line, with the GPU memory the model holds beside tokens/s on the WebGPU engine. */
function statsLine(m: LoadedModel, s: AnswerStats): string {
  return m.gpuBytes === null ? formatStats(s) : `${formatStats(s)} · GPU memory ${formatBytes(m.gpuBytes)}`;
}

const autoload = params.get('model');
void backendReady.then(() => panel.refreshCached()).catch(() => {});
if (autoload) {
  panel.setUrl(autoload);
  void load({ kind: 'url', url: autoload });
} else if (params.get('autoload') !== '0') {
  void loadDemoIfServed();
}
