/**
 * Per-patch supervision for pretraining a vision tower on shapes scenes (scripts/pretrain-demo-vision.ts): what
 * each cell of a `grid × grid` patch grid should know about the scene, computed from the scene description
 * (no pixels). Two kinds of targets:
 *
 * - anchors: the cell that holds a shape's centre owns the shape (its kind, colour and its rank from the left,
 *   the order a caption lists it in); on the 8×8 grid of a 64 px canvas shapes are never closer than a patch
 *   diagonal, so a cell holds at most one centre (on coarser grids the first shape keeps the cell);
 * - owner: the shape that covers most of the cell (4×4 sample points, at least `minShare` of them), with its
 *   kind, colour and rank too: a dense target, so every shape is named by every cell it mostly covers.
 */
import { COLOUR_NAMES, SHAPE_KINDS, shapeAt, type Scene } from './shapes-raster.js';

/** Class indices per cell; -1 where a target does not apply (no anchor, or background for `cover*`). */
export interface PatchTargets {
  /** Index into `scene.shapes` of the shape whose centre lies in the cell, else -1. */
  anchor: Int32Array;
  /** For anchor cells: kind (index in `SHAPE_KINDS`), colour (index in `COLOUR_NAMES`), rank from the left. */
  anchorKind: Int32Array;
  anchorColour: Int32Array;
  anchorRank: Int32Array;
  /** Index into `scene.shapes` of the shape covering most of the cell, else -1 (background). */
  owner: Int32Array;
  /** For owned cells: kind, colour and rank from the left of the owner; -1 for the background. */
  ownerKind: Int32Array;
  ownerColour: Int32Array;
  ownerRank: Int32Array;
  /** Number of shapes in the scene. */
  count: number;
}

/** The rank of each shape from the left (by centre x, as `describeScene` orders a caption). */
export function leftToRightRanks(scene: Scene): number[] {
  const order = scene.shapes.map((s, i) => ({ i, cx: s.cx })).sort((a, b) => a.cx - b.cx);
  const rank = new Array<number>(scene.shapes.length);
  order.forEach((o, r) => (rank[o.i] = r));
  return rank;
}

/** Sample points per cell side for `owner`. */
const OWNER_SAMPLES = 4;

/**
 * Targets for a scene on a `grid × grid` patch grid (cells in row-major order, like the encoder's patches). A
 * cell is owned by a shape that covers at least `minShare` of its sample points (default 2 of 16).
 */
export function patchTargets(scene: Scene, grid: number, minShare = 2 / 16): PatchTargets {
  const cells = grid * grid;
  const cell = scene.size / grid;
  const t: PatchTargets = {
    anchor: new Int32Array(cells).fill(-1),
    anchorKind: new Int32Array(cells).fill(-1),
    anchorColour: new Int32Array(cells).fill(-1),
    anchorRank: new Int32Array(cells).fill(-1),
    owner: new Int32Array(cells).fill(-1),
    ownerKind: new Int32Array(cells).fill(-1),
    ownerColour: new Int32Array(cells).fill(-1),
    ownerRank: new Int32Array(cells).fill(-1),
    count: scene.shapes.length,
  };
  const ranks = leftToRightRanks(scene);
  scene.shapes.forEach((s, i) => {
    const gx = Math.min(grid - 1, Math.floor(s.cx / cell));
    const gy = Math.min(grid - 1, Math.floor(s.cy / cell));
    const c = gy * grid + gx;
    if (t.anchor[c] !== -1) return;
    t.anchor[c] = i;
    t.anchorKind[c] = SHAPE_KINDS.indexOf(s.kind);
    t.anchorColour[c] = COLOUR_NAMES.indexOf(s.colour);
    t.anchorRank[c] = ranks[i];
  });
  const hits = new Array<number>(scene.shapes.length);
  for (let gy = 0; gy < grid; gy++) {
    for (let gx = 0; gx < grid; gx++) {
      hits.fill(0);
      for (let sy = 0; sy < OWNER_SAMPLES; sy++) {
        for (let sx = 0; sx < OWNER_SAMPLES; sx++) {
          const i = shapeAt(scene, (gx + (sx + 0.5) / OWNER_SAMPLES) * cell, (gy + (sy + 0.5) / OWNER_SAMPLES) * cell);
          if (i >= 0) hits[i]++;
        }
      }
      let best = -1;
      hits.forEach((h, i) => {
        if (h >= minShare * OWNER_SAMPLES ** 2 && (best < 0 || h > hits[best])) best = i;
      });
      if (best < 0) continue;
      const c = gy * grid + gx;
      t.owner[c] = best;
      t.ownerKind[c] = SHAPE_KINDS.indexOf(scene.shapes[best].kind);
      t.ownerColour[c] = COLOUR_NAMES.indexOf(scene.shapes[best].colour);
      t.ownerRank[c] = ranks[best];
    }
  }
  return t;
}
