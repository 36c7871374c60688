/**
 * Writes the example images in examples/ (drawn by the same code as `dataset synth-shapes`).
 *   npx tsx scripts/make-example-images.ts
 */
import { writeFile } from 'node:fs/promises';
import { PNG } from 'pngjs';
import { renderScene } from '../src/data/shapes-raster.js';
import { EXAMPLE_SCENES } from '../src/data/example-scenes.js';

for (const [name, scene] of Object.entries(EXAMPLE_SCENES)) {
  const img = renderScene(scene);
  const png = new PNG({ width: img.width, height: img.height });
  png.data.set(img.data);
  await writeFile(`examples/${name}.png`, PNG.sync.write(png));
  console.log(`examples/${name}.png`);
}
