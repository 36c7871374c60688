/**
 * The loss curve as a standalone SVG (opens in any browser or image viewer, embeds in the model card).
 * Hand-written: a line chart with axes is ~80 lines, while charting packages want a DOM or a headless
 * browser to render.
 */
export interface Point {
  step: number;
  loss: number;
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

/** Renders `points` (training loss by optimizer step) as an SVG document. */
export function lossCurveSVG(points: Point[], title = 'training loss', width = 640, height = 360): string {
  const pts = points.filter((p) => Number.isFinite(p.loss));
  const m = { l: 56, r: 16, t: 32, b: 40 };
  const w = width - m.l - m.r;
  const h = height - m.t - m.b;
  const xs = pts.map((p) => p.step);
  const ys = pts.map((p) => p.loss);
  const x0 = Math.min(0, ...xs);
  const x1 = Math.max(1, ...xs);
  const y0 = Math.min(0, ...ys);
  const y1 = Math.max(1e-9, ...ys) * 1.05;
  const X = (x: number) => m.l + ((x - x0) / (x1 - x0)) * w;
  const Y = (y: number) => m.t + h - ((y - y0) / (y1 - y0)) * h;
  const lines: string[] = [];
  for (const t of niceTicks(y0, y1)) {
    lines.push(`<line x1="${m.l}" x2="${m.l + w}" y1="${Y(t)}" y2="${Y(t)}" stroke="#e5e5e5"/>`);
    lines.push(`<text x="${m.l - 6}" y="${Y(t) + 4}" text-anchor="end">${t}</text>`);
  }
  for (const t of niceTicks(x0, x1)) {
    lines.push(`<text x="${X(t)}" y="${m.t + h + 18}" text-anchor="middle">${t}</text>`);
  }
  const path = pts.map((p, i) => `${i ? 'L' : 'M'}${X(p.step).toFixed(1)},${Y(p.loss).toFixed(1)}`).join(' ');
  const last = pts[pts.length - 1];
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${m.l}" y="20" font-size="14">${esc(title)}${last ? ` — step ${last.step}: ${last.loss.toFixed(4)}` : ''}</text>`,
    ...lines,
    `<line x1="${m.l}" x2="${m.l}" y1="${m.t}" y2="${m.t + h}" stroke="#333"/>`,
    `<line x1="${m.l}" x2="${m.l + w}" y1="${m.t + h}" y2="${m.t + h}" stroke="#333"/>`,
    `<text x="${m.l + w / 2}" y="${height - 6}" text-anchor="middle">optimizer step</text>`,
    path ? `<path d="${path}" fill="none" stroke="#2563eb" stroke-width="2"/>` : '',
    ...(pts.length === 1 ? [`<circle cx="${X(pts[0].step)}" cy="${Y(pts[0].loss)}" r="3" fill="#2563eb"/>`] : []),
    `</svg>`,
  ].join('\n');
}
