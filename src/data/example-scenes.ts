/**
 * The example pictures: `examples/*.png` (written by scripts/make-example-images.ts) and the demo page's
 * "Try:" buttons draw these same scenes, so the files and the page show the same thing.
 */
import type { Scene } from './shapes-raster.js';

export const EXAMPLE_SCENES = {
  'red-circle': { size: 64, shapes: [{ kind: 'circle', colour: 'red', cx: 32, cy: 32, r: 17 }] },
  'blue-square': { size: 64, shapes: [{ kind: 'square', colour: 'blue', cx: 30, cy: 34, r: 16 }] },
  'green-triangle': { size: 64, shapes: [{ kind: 'triangle', colour: 'green', cx: 33, cy: 31, r: 18 }] },
  'yellow-star': { size: 64, shapes: [{ kind: 'star', colour: 'yellow', cx: 32, cy: 32, r: 18 }] },
  // Several shapes are drawn small (radius 9–13% of the canvas), as in the training pictures.
  'two-shapes': { size: 64, shapes: [{ kind: 'circle', colour: 'purple', cx: 18, cy: 22, r: 8 }, { kind: 'square', colour: 'orange', cx: 44, cy: 42, r: 7.5 }] },
  'three-shapes': {
    size: 64,
    shapes: [
      { kind: 'triangle', colour: 'red', cx: 14, cy: 44, r: 6 },
      { kind: 'star', colour: 'blue', cx: 30, cy: 18, r: 8 },
      { kind: 'circle', colour: 'yellow', cx: 50, cy: 46, r: 6 },
    ],
  },
} as const satisfies Record<string, Scene>;

export type ExampleName = keyof typeof EXAMPLE_SCENES;
