/**
 * Pictures of the demo model's world in a colour it was never shown: shapes drawn by the dataset's rasterizer
 * (white background, anti-aliased edges), repainted from red into any RGB. Teal (0, 128, 128), halfway between
 * green and blue, is one the demo model mostly calls "Green." (a teal star "Blue."), and it can learn "Blue." for
 * it in a couple of projector steps. (The model before issue #17's recolouring called navy "Red."; the current one
 * calls it "Blue.", rightly.)
 */
import { PNG } from 'pngjs';
import { renderScene, type Scene, type ShapeKind } from '../../src/data/shapes-raster.js';

/** The red the rasterizer paints with: [220, 30, 30]; its green channel gives each pixel's coverage. */
const RED_G = 30;

/** A PNG of one `kind` at `(cx, cy)` with size `r`, in `rgb`. */
export function recolouredShape(kind: ShapeKind, rgb: readonly [number, number, number], cx = 32, cy = 32, r = 16): Buffer {
  const scene: Scene = { size: 64, shapes: [{ kind, colour: 'red', cx, cy, r }] };
  const img = renderScene(scene);
  const png = new PNG({ width: img.width, height: img.height });
  for (let p = 0; p < img.width * img.height; p++) {
    const coverage = (255 - img.data[p * 4 + 1]) / (255 - RED_G);
    for (let c = 0; c < 3; c++) png.data[p * 4 + c] = Math.round(255 * (1 - coverage) + rgb[c] * coverage);
    png.data[p * 4 + 3] = 255;
  }
  return PNG.sync.write(png);
}

export const TEAL = [0, 128, 128] as const;
