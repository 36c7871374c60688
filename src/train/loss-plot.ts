/**
 * The loss curve as a standalone SVG (opens in any browser or image viewer, embeds in the model card): training
 * loss, evaluation loss at each evaluation, and exact-match accuracy on a second (right) axis when the run
 * measured it. Hand-written: a line chart with axes is ~100 lines, while charting packages want a DOM or a
 * headless browser to render.
 */
import { appendAll, maxOf, minOf } from '../util/arrays.js';

/** A `log_history` entry: training entries carry `loss`, evaluation entries `eval_loss` (and maybe accuracy). */
export interface Point {
  step: number;
  loss?: number;
  eval_loss?: number;
  /** 0..1 */
  eval_exact_match?: number;
}

function niceTicks(min: number, max: number, count = 5): number[] {
  if (!(max > min)) return [min];
  const raw = (max - min) / count;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let v = Math.ceil(min / step) * step; v <= max + 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

const esc = (s: string) => s.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]!);

const COLOURS = { train: '#2563eb', eval: '#ea580c', accuracy: '#16a34a' };

type XY = { x: number; y: number };

function series(pts: XY[], X: (x: number) => number, Y: (y: number) => number, colour: string, opts: { dash?: boolean; dots?: boolean }): string[] {
  if (!pts.length) return [];
  const d = pts.map((p, i) => `${i ? 'L' : 'M'}${X(p.x).toFixed(1)},${Y(p.y).toFixed(1)}`).join(' ');
  const out = [`<path d="${d}" fill="none" stroke="${colour}" stroke-width="2"${opts.dash ? ' stroke-dasharray="6 4"' : ''}/>`];
  // Evaluation points are few and each one matters: mark them. A lone training point needs a mark to be seen.
  if (opts.dots || pts.length === 1) for (const p of pts) out.push(`<circle cx="${X(p.x).toFixed(1)}" cy="${Y(p.y).toFixed(1)}" r="3.5" fill="${colour}"/>`);
  return out;
}

export interface LossPlotOptions {
  title?: string;
  width?: number;
  height?: number;
  /** Step of the best evaluation (`best_global_step`): marked with a vertical line. */
  bestStep?: number;
}

/** Renders a run's `log_history` (training loss by optimizer step, plus any evaluations) as an SVG document. */
export function lossCurveSVG(history: Point[], options: LossPlotOptions | string = {}): string {
  const o = typeof options === 'string' ? { title: options } : options;
  const { title = 'training loss', width = 720, height = 400 } = o;
  const train = history.filter((p) => Number.isFinite(p.loss)).map((p) => ({ x: p.step, y: p.loss! }));
  const evalLoss = history.filter((p) => Number.isFinite(p.eval_loss)).map((p) => ({ x: p.step, y: p.eval_loss! }));
  const acc = history.filter((p) => Number.isFinite(p.eval_exact_match)).map((p) => ({ x: p.step, y: 100 * p.eval_exact_match! }));
  const m = { l: 56, r: acc.length ? 56 : 16, t: 52, b: 40 };
  const w = width - m.l - m.r;
  const h = height - m.t - m.b;
  const xs = [...train, ...evalLoss, ...acc].map((p) => p.x);
  const ys = [...train, ...evalLoss].map((p) => p.y);
  const x0 = Math.min(0, minOf(xs));
  const x1 = Math.max(1, maxOf(xs));
  const y0 = Math.min(0, minOf(ys));
  const y1 = Math.max(1e-9, maxOf(ys)) * 1.05;
  const X = (x: number) => m.l + ((x - x0) / (x1 - x0)) * w;
  const Y = (y: number) => m.t + h - ((y - y0) / (y1 - y0)) * h;
  const A = (a: number) => m.t + h - (a / 100) * h;
  const out: string[] = [];
  for (const t of niceTicks(y0, y1)) {
    out.push(`<line x1="${m.l}" x2="${m.l + w}" y1="${Y(t)}" y2="${Y(t)}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${m.l - 6}" y="${Y(t) + 4}" text-anchor="end">${t}</text>`);
  }
  for (const t of niceTicks(x0, x1)) out.push(`<text x="${X(t)}" y="${m.t + h + 18}" text-anchor="middle">${t}</text>`);
  out.push(`<line x1="${m.l}" x2="${m.l}" y1="${m.t}" y2="${m.t + h}" stroke="#333"/>`);
  out.push(`<line x1="${m.l}" x2="${m.l + w}" y1="${m.t + h}" y2="${m.t + h}" stroke="#333"/>`);
  out.push(`<text x="${m.l + w / 2}" y="${height - 6}" text-anchor="middle">optimizer step</text>`);
  out.push(`<text transform="translate(14 ${m.t + h / 2}) rotate(-90)" text-anchor="middle">loss</text>`);
  if (acc.length) {
    const right = m.l + w;
    out.push(`<line x1="${right}" x2="${right}" y1="${m.t}" y2="${m.t + h}" stroke="${COLOURS.accuracy}"/>`);
    for (const t of [0, 20, 40, 60, 80, 100]) out.push(`<text x="${right + 6}" y="${A(t) + 4}" fill="${COLOURS.accuracy}">${t}%</text>`);
    out.push(`<text transform="translate(${width - 8} ${m.t + h / 2}) rotate(90)" text-anchor="middle" fill="${COLOURS.accuracy}">exact match</text>`);
  }
  if (o.bestStep !== undefined && xs.length) {
    const bx = X(o.bestStep).toFixed(1);
    out.push(`<line x1="${bx}" x2="${bx}" y1="${m.t}" y2="${m.t + h}" stroke="#6b7280" stroke-dasharray="2 3"/>`);
    out.push(`<text x="${bx}" y="${m.t + 12}" text-anchor="${X(o.bestStep) > m.l + w - 40 ? 'end' : 'start'}" dx="${X(o.bestStep) > m.l + w - 40 ? -4 : 4}" fill="#374151">best (step ${o.bestStep})</text>`);
  }
  // A long run has one point per logging step: append without spreading them onto the stack.
  appendAll(out, series(train, X, Y, COLOURS.train, {}));
  appendAll(out, series(evalLoss, X, Y, COLOURS.eval, { dots: true }));
  appendAll(out, series(acc, X, A, COLOURS.accuracy, { dash: true, dots: true }));

  const legend: [string, string, boolean][] = [['train loss', COLOURS.train, false]];
  if (evalLoss.length) legend.push(['eval loss', COLOURS.eval, false]);
  if (acc.length) legend.push(['eval exact match', COLOURS.accuracy, true]);
  let lx = m.l;
  for (const [label, colour, dash] of legend) {
    out.push(`<line x1="${lx}" x2="${lx + 22}" y1="${m.t - 12}" y2="${m.t - 12}" stroke="${colour}" stroke-width="2"${dash ? ' stroke-dasharray="6 4"' : ''}/>`);
    out.push(`<text x="${lx + 27}" y="${m.t - 8}">${label}</text>`);
    lx += 40 + label.length * 7;
  }
  const parts: string[] = [];
  const last = train[train.length - 1];
  if (last) parts.push(`step ${last.x}: ${last.y.toFixed(4)}`);
  const lastEval = evalLoss[evalLoss.length - 1];
  if (lastEval) parts.push(`eval ${lastEval.y.toFixed(4)}`);
  const lastAcc = acc[acc.length - 1];
  if (lastAcc) parts.push(`${lastAcc.y.toFixed(1)}% exact`);
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${m.l}" y="20" font-size="14">${esc(title)}${parts.length ? ` — ${parts.join(', ')}` : ''}</text>`,
    ...out,
    `</svg>`,
  ].join('\n');
}
