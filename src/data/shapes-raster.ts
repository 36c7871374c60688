/**
 * A tiny anti-aliased rasterizer for the synthetic shapes dataset: flat-coloured circles, squares, triangles,
 * stars and diamonds on a white background, drawn into an RGBA buffer. Pure arithmetic (no canvas), so Node
 * and the browser produce byte-identical pixels for the same scene.
 */

/** Named colours, far apart in RGB so a tiny vision encoder separates them easily. */
export const SHAPE_COLOURS = {
  red: [220, 30, 30],
  green: [30, 160, 50],
  blue: [40, 80, 230],
  yellow: [240, 200, 20],
  purple: [140, 50, 180],
  orange: [245, 130, 20],
} as const satisfies Record<string, readonly [number, number, number]>;

export type ColourName = keyof typeof SHAPE_COLOURS;
export const COLOUR_NAMES = Object.keys(SHAPE_COLOURS) as ColourName[];

export const SHAPE_KINDS = ['circle', 'square', 'triangle', 'star', 'diamond'] as const;
export type ShapeKind = (typeof SHAPE_KINDS)[number];

/** One shape: centre `(cx, cy)` and size `r` in pixels. Every kind fits in a circle of radius `BOUND * r`. */
export interface ShapeSpec {
  kind: ShapeKind;
  colour: ColourName;
  cx: number;
  cy: number;
  r: number;
  /**
   * Draw in this RGB colour instead of the palette's `colour` (vision pretraining's colour jitter, which keeps
   * the tower from tying a shape's kind to the few colours it was seen in). Dataset rows never set it.
   */
  rgb?: readonly [number, number, number];
}

/** A picture: a square canvas of `size` pixels and the shapes drawn on it, in painting order. */
export interface Scene {
  size: number;
  shapes: ShapeSpec[];
}

/** An RGBA image, row-major, 4 bytes per pixel (the layout of `ImageData` and pngjs). */
export interface RGBAImage {
  width: number;
  height: number;
  data: Uint8ClampedArray;
}

/** How far any kind reaches from its centre, in units of `r` (used to keep shapes apart and on the canvas). */
export const BOUND = 1.15;

const BACKGROUND = [255, 255, 255];
/** Subsamples per pixel side: 4×4 coverage samples give smooth edges at 64 px. */
const SS = 4;

type Poly = [number, number][];

/**
 * Polygon outline of a kind (null for the circle). The kinds are scaled to look about equally big: square
 * half-side 0.85r, triangle and star outer radius 1.15r (centroid at the centre, so the centre pixel is
 * always inside and shows the shape's colour), diamond half-diagonal 1.1r.
 */
function outline(s: ShapeSpec): Poly | null {
  const { cx, cy, r } = s;
  const ring = (n: number, radius: (k: number) => number): Poly =>
    Array.from({ length: n }, (_, k) => {
      const a = -Math.PI / 2 + (2 * Math.PI * k) / n;
      return [cx + radius(k) * Math.cos(a), cy + radius(k) * Math.sin(a)];
    });
  switch (s.kind) {
    case 'circle':
      return null;
    case 'square': {
      const h = 0.85 * r;
      return [[cx - h, cy - h], [cx + h, cy - h], [cx + h, cy + h], [cx - h, cy + h]];
    }
    case 'triangle':
      return ring(3, () => 1.15 * r);
    case 'star':
      return ring(10, (k) => (k % 2 === 0 ? 1.15 * r : 0.5 * r));
    case 'diamond':
      return ring(4, () => 1.1 * r);
  }
}

/** Even-odd point-in-polygon test (works for the non-convex star). */
function insidePoly(p: Poly, x: number, y: number): boolean {
  let inside = false;
  for (let i = 0, j = p.length - 1; i < p.length; j = i++) {
    const [xi, yi] = p[i];
    const [xj, yj] = p[j];
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/** Distance from `(x, y)` to the shape's outline. */
function edgeDistance(s: ShapeSpec, poly: Poly | null, x: number, y: number): number {
  if (!poly) return Math.abs(Math.sqrt((x - s.cx) ** 2 + (y - s.cy) ** 2) - s.r);
  let best = Infinity;
  for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) {
    const [ax, ay] = poly[j];
    const dx = poly[i][0] - ax;
    const dy = poly[i][1] - ay;
    const t = Math.max(0, Math.min(1, ((x - ax) * dx + (y - ay) * dy) / (dx * dx + dy * dy)));
    best = Math.min(best, (x - ax - t * dx) ** 2 + (y - ay - t * dy) ** 2);
  }
  return Math.sqrt(best);
}

/**
 * Fraction of pixel `(px, py)` covered by the shape, from SS×SS point samples. A pixel whose centre is more
 * than half a diagonal from the outline is wholly inside or outside, so one test settles it (same result, 16×
 * fewer tests away from edges).
 */
function coverage(s: ShapeSpec, poly: Poly | null, px: number, py: number): number {
  if (edgeDistance(s, poly, px + 0.5, py + 0.5) > 0.75) {
    const x = px + 0.5;
    const y = py + 0.5;
    return (poly ? insidePoly(poly, x, y) : (x - s.cx) ** 2 + (y - s.cy) ** 2 <= s.r * s.r) ? 1 : 0;
  }
  let hits = 0;
  for (let sy = 0; sy < SS; sy++) {
    const y = py + (sy + 0.5) / SS;
    for (let sx = 0; sx < SS; sx++) {
      const x = px + (sx + 0.5) / SS;
      if (poly ? insidePoly(poly, x, y) : (x - s.cx) ** 2 + (y - s.cy) ** 2 <= s.r * s.r) hits++;
    }
  }
  return hits / (SS * SS);
}

/** Index of the topmost shape of `scene` that covers the point `(x, y)`, or -1 for the background. */
export function shapeAt(scene: Scene, x: number, y: number): number {
  for (let i = scene.shapes.length - 1; i >= 0; i--) {
    const s = scene.shapes[i];
    const poly = outline(s);
    if (poly ? insidePoly(poly, x, y) : (x - s.cx) ** 2 + (y - s.cy) ** 2 <= s.r * s.r) return i;
  }
  return -1;
}

/** Draws a scene: shapes are composited in order over white, each edge pixel blended by its coverage. */
export function renderScene(scene: Scene): RGBAImage {
  const n = scene.size;
  const acc = new Float64Array(n * n * 3);
  for (let i = 0; i < n * n; i++) acc.set(BACKGROUND, i * 3);
  for (const s of scene.shapes) {
    const poly = outline(s);
    const col = s.rgb ?? SHAPE_COLOURS[s.colour];
    const reach = BOUND * s.r + 1;
    const x0 = Math.max(0, Math.floor(s.cx - reach));
    const x1 = Math.min(n - 1, Math.ceil(s.cx + reach));
    const y0 = Math.max(0, Math.floor(s.cy - reach));
    const y1 = Math.min(n - 1, Math.ceil(s.cy + reach));
    for (let y = y0; y <= y1; y++) {
      for (let x = x0; x <= x1; x++) {
        const c = coverage(s, poly, x, y);
        if (c === 0) continue;
        const o = (y * n + x) * 3;
        for (let k = 0; k < 3; k++) acc[o + k] = acc[o + k] * (1 - c) + col[k] * c;
      }
    }
  }
  const data = new Uint8ClampedArray(n * n * 4);
  for (let i = 0; i < n * n; i++) {
    data[i * 4] = Math.round(acc[i * 3]);
    data[i * 4 + 1] = Math.round(acc[i * 3 + 1]);
    data[i * 4 + 2] = Math.round(acc[i * 3 + 2]);
    data[i * 4 + 3] = 255;
  }
  return { width: n, height: n, data };
}
