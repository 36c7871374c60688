/**
 * Held-out regions of scene space for the synthetic shapes dataset. A rule names shape centres (a box), radii
 * (bands) and colour×kind pairs that training rows never show; test rows are then drawn from three places:
 * the in-distribution region (`test`), pictures with a shape in a held-out box or radius band (`regions`), and
 * rows that show or name a held-out pair (`pairs`). A test picture of the `regions` split is therefore at least
 * a band's width away from every training picture in position or size, unlike a fresh picture from the
 * training distribution, which nearly always has a training twin within a pixel.
 *
 * All bounds are fractions of the canvas size, so a rule means the same at any `image_size`.
 */
import type { ColourName, Scene, ShapeKind, ShapeSpec } from './shapes-raster.js';
import { COLOUR_NAMES, SHAPE_KINDS } from './shapes-raster.js';

/** Which part of scene space a shape, picture or row belongs to. */
export type HoldoutClass = 'train' | 'regions' | 'pairs';

export interface HoldoutRule {
  /** Shape centres inside this box (`[lo, hi)` fractions of the canvas) never occur in training pictures. */
  positions?: { x: [number, number]; y: [number, number] };
  /** Shape radii inside any of these bands (`[lo, hi)` fractions of the canvas) never occur in training pictures. */
  radii?: [number, number][];
  /**
   * Colour×kind pairs that never occur in training rows, neither drawn nor named in a question (only text-only
   * drills made with `synth-shapes --drill_pairs all` may name them; no training picture shows them).
   */
  pairs?: { colour: ColourName; kind: ShapeKind }[];
}

/**
 * The rule the demo model is trained and judged with: centres in a 12.5%-wide vertical band of the top-right
 * quadrant (x 36–44 px, y above 32 px on a 64 px canvas), one band of radii inside each size range the
 * generator draws (a lone shape: 22–32% of the canvas, band 28.5–31.5%; several shapes: 9–13%, band 10–11.5%),
 * and three colour×kind pairs. The example pictures (src/data/example-scenes.ts) stay outside all of them.
 */
export const DEFAULT_HOLDOUT: Readonly<HoldoutRule> = {
  positions: { x: [0.5625, 0.6875], y: [0, 0.5] },
  radii: [
    [0.1, 0.115],
    [0.285, 0.315],
  ],
  pairs: [
    { colour: 'green', kind: 'star' },
    { colour: 'orange', kind: 'circle' },
    { colour: 'purple', kind: 'diamond' },
  ],
};

const within = (v: number, [lo, hi]: [number, number]) => v >= lo && v < hi;

/** True when the pair `{colour, kind}` is held out by `rule`. */
export function isHeldOutPair(rule: HoldoutRule, t: { colour: ColourName; kind: ShapeKind }): boolean {
  return (rule.pairs ?? []).some((p) => p.colour === t.colour && p.kind === t.kind);
}

/** `pairs` for a held-out pair, `regions` for a shape in the box or a radius band, else `train`. */
export function classifyShape(rule: HoldoutRule, s: ShapeSpec, size: number): HoldoutClass {
  if (isHeldOutPair(rule, s)) return 'pairs';
  const p = rule.positions;
  if (p && within(s.cx / size, p.x) && within(s.cy / size, p.y)) return 'regions';
  if ((rule.radii ?? []).some((band) => within(s.r / size, band))) return 'regions';
  return 'train';
}

/**
 * The class of a row from its pictures and the targets its question names: `pairs` wins over `regions`, which
 * wins over `train` (a row is trainable only when nothing in it is held out).
 */
export function classifyRow(rule: HoldoutRule, scenes: Scene[], named: { colour: ColourName; kind: ShapeKind }[] = []): HoldoutClass {
  let cls: HoldoutClass = 'train';
  if (named.some((t) => isHeldOutPair(rule, t))) return 'pairs';
  for (const scene of scenes) {
    for (const s of scene.shapes) {
      const c = classifyShape(rule, s, scene.size);
      if (c === 'pairs') return 'pairs';
      if (c === 'regions') cls = 'regions';
    }
  }
  return cls;
}

/** Checks a rule read from the command line or a file; the error names the field at fault. */
export function validateHoldout(rule: unknown): HoldoutRule {
  const fail = (msg: string): never => {
    throw new Error(`holdout rule: ${msg}`);
  };
  if (typeof rule !== 'object' || rule === null || Array.isArray(rule)) fail('must be an object with positions, radii and/or pairs');
  const r = rule as Record<string, unknown>;
  for (const k of Object.keys(r)) if (!['positions', 'radii', 'pairs'].includes(k)) fail(`unknown field "${k}" (known: positions, radii, pairs)`);
  const range = (v: unknown, name: string): [number, number] => {
    if (!Array.isArray(v) || v.length !== 2 || !v.every((x) => typeof x === 'number' && x >= 0 && x <= 1) || !(v[0] < v[1])) {
      fail(`${name} must be [lo, hi] with 0 ≤ lo < hi ≤ 1 (fractions of the canvas), got ${JSON.stringify(v)}`);
    }
    return v as [number, number];
  };
  const out: HoldoutRule = {};
  if (r.positions !== undefined) {
    const p = r.positions as Record<string, unknown>;
    if (typeof p !== 'object' || p === null) fail('positions must be {x: [lo, hi], y: [lo, hi]}');
    out.positions = { x: range(p.x, 'positions.x'), y: range(p.y, 'positions.y') };
  }
  if (r.radii !== undefined) {
    if (!Array.isArray(r.radii)) fail('radii must be a list of [lo, hi] bands');
    out.radii = (r.radii as unknown[]).map((b, i) => range(b, `radii[${i}]`));
  }
  if (r.pairs !== undefined) {
    if (!Array.isArray(r.pairs)) fail('pairs must be a list of {colour, kind}');
    out.pairs = (r.pairs as { colour?: unknown; kind?: unknown }[]).map((p, i) => {
      if (!COLOUR_NAMES.includes(p?.colour as ColourName)) fail(`pairs[${i}].colour must be one of ${COLOUR_NAMES.join(', ')}, got ${JSON.stringify(p?.colour)}`);
      if (!SHAPE_KINDS.includes(p?.kind as ShapeKind)) fail(`pairs[${i}].kind must be one of ${SHAPE_KINDS.join(', ')}, got ${JSON.stringify(p?.kind)}`);
      return { colour: p.colour as ColourName, kind: p.kind as ShapeKind };
    });
    if (out.pairs.length >= COLOUR_NAMES.length * SHAPE_KINDS.length) fail('pairs holds out every colour×kind pair');
  }
  return out;
}
