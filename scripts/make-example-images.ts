/**
 * Writes the example images in examples/ (drawn by the same code as `dataset synth-shapes`).
 *   npx tsx scripts/make-example-images.ts
 */
import { writeFile } from 'node:fs/promises';
import { PNG } from 'pngjs';
import { renderScene, type Scene } from '../src/data/shapes-raster.js';

const scenes: Record<string, Scene> = {
  'red-circle': { size: 64, shapes: [{ kind: 'circle', colour: 'red', cx: 32, cy: 32, r: 17 }] },
  'blue-square': { size: 64, shapes: [{ kind: 'square', colour: 'blue', cx: 30, cy: 34, r: 16 }] },
  'green-triangle': { size: 64, shapes: [{ kind: 'triangle', colour: 'green', cx: 33, cy: 31, r: 18 }] },
  'yellow-star': { size: 64, shapes: [{ kind: 'star', colour: 'yellow', cx: 32, cy: 32, r: 18 }] },
  'two-shapes': { size: 64, shapes: [{ kind: 'circle', colour: 'purple', cx: 18, cy: 20, r: 9 }, { kind: 'square', colour: 'orange', cx: 44, cy: 44, r: 10 }] },
};

for (const [name, scene] of Object.entries(scenes)) {
  const img = renderScene(scene);
  const png = new PNG({ width: img.width, height: img.height });
  png.data.set(img.data);
  await writeFile(`examples/${name}.png`, PNG.sync.write(png));
  console.log(`examples/${name}.png`);
}
