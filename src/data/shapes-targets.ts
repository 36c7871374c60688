/**
 * Per-patch supervision for pretraining a vision tower on shapes scenes (scripts/pretrain-demo-vision.ts): what
 * each cell of a `grid × grid` patch grid should know about the scene, computed from the scene description
 * (no pixels). Two kinds of targets:
 *
 * - anchors: the cell that holds a shape's centre owns the shape (its kind, colour and its rank from the left,
 *   the order a caption lists it in); shapes are never closer than a patch diagonal, so a cell owns at most one;
 * - cover: the shape under the cell's centre pixel (or the background), a dense local target.
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
  /** The shape under the cell centre: kind and colour indices, -1 for the background. */
  coverKind: Int32Array;
  coverColour: Int32Array;
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

/** Targets for a scene on a `grid × grid` patch grid (cells in row-major order, like the encoder's patches). */
export function patchTargets(scene: Scene, grid: number): PatchTargets {
  const cells = grid * grid;
  const cell = scene.size / grid;
  const t: PatchTargets = {
    anchor: new Int32Array(cells).fill(-1),
    anchorKind: new Int32Array(cells).fill(-1),
    anchorColour: new Int32Array(cells).fill(-1),
    anchorRank: new Int32Array(cells).fill(-1),
    coverKind: new Int32Array(cells).fill(-1),
    coverColour: new Int32Array(cells).fill(-1),
    count: scene.shapes.length,
  };
  const ranks = leftToRightRanks(scene);
  scene.shapes.forEach((s, i) => {
    const gx = Math.min(grid - 1, Math.floor(s.cx / cell));
    const gy = Math.min(grid - 1, Math.floor(s.cy / cell));
    const c = gy * grid + gx;
    if (t.anchor[c] !== -1) throw new Error(`patchTargets: shapes ${t.anchor[c]} and ${i} both have their centre in cell ${gx},${gy}`);
    t.anchor[c] = i;
    t.anchorKind[c] = SHAPE_KINDS.indexOf(s.kind);
    t.anchorColour[c] = COLOUR_NAMES.indexOf(s.colour);
    t.anchorRank[c] = ranks[i];
  });
  for (let gy = 0; gy < grid; gy++) {
    for (let gx = 0; gx < grid; gx++) {
      const i = shapeAt(scene, (gx + 0.5) * cell, (gy + 0.5) * cell);
      if (i < 0) continue;
      t.coverKind[gy * grid + gx] = SHAPE_KINDS.indexOf(scene.shapes[i].kind);
      t.coverColour[gy * grid + gx] = COLOUR_NAMES.indexOf(scene.shapes[i].colour);
    }
  }
  return t;
}
