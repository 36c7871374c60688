/**
 * "Try an example" for the bundled demo model: pictures of the kind it was trained on (drawn in the page by the
 * same code as `dataset synth-shapes`, so nothing is downloaded) paired with questions it answers reliably. A
 * newcomer without a suitable picture at hand gets a correct answer in two clicks; the pairs stay within what the
 * README says the demo can do (colour, shape, description, counting; one shape or several).
 */
import { renderScene } from '../../src/data/shapes-raster.js';
import { EXAMPLE_SCENES, type ExampleName } from '../../src/data/example-scenes.js';
import { byId, el } from './ui.js';

interface Example {
  name: ExampleName;
  /** Asked after the picture (the page puts `<image>` first), in one of the training data's wordings. */
  question: string;
}

const EXAMPLES: readonly Example[] = [
  { name: 'red-circle', question: 'Describe the picture.' },
  { name: 'blue-square', question: 'What colour is this shape?' },
  { name: 'green-triangle', question: 'What shape is this?' },
  { name: 'two-shapes', question: 'Describe the picture.' },
  { name: 'three-shapes', question: 'How many shapes do you see?' },
];

/** A scene as a PNG file, as if the user had attached it. */
async function sceneFile(e: Example): Promise<File> {
  const img = renderScene(EXAMPLE_SCENES[e.name]);
  const canvas = document.createElement('canvas');
  canvas.width = img.width;
  canvas.height = img.height;
  canvas.getContext('2d')!.putImageData(new ImageData(new Uint8ClampedArray(img.data), img.width, img.height), 0, 0);
  const blob = await new Promise<Blob | null>((resolve) => canvas.toBlob(resolve, 'image/png'));
  if (!blob) throw new Error(`could not draw the example picture ${e.name}`);
  return new File([blob], `${e.name}.png`, { type: 'image/png' });
}

/**
 * Shows the examples strip (or hides it when `show` is false). `use` receives the picture and question of the
 * clicked example.
 */
export async function showExamples(show: boolean, use: (file: File, question: string) => void): Promise<void> {
  const box = byId('examples');
  for (const img of box.querySelectorAll('img')) URL.revokeObjectURL(img.src);
  box.replaceChildren();
  box.hidden = !show;
  if (!show) return;
  const buttons = await Promise.all(
    EXAMPLES.map(async (e) => {
      const file = await sceneFile(e);
      const b = el('button', 'example');
      b.type = 'button';
      b.dataset.example = e.name;
      b.title = `Attach ${file.name} and ask “${e.question}”`;
      const img = el('img');
      img.src = URL.createObjectURL(file);
      img.alt = e.name.replace('-', ' ');
      b.append(img, el('span', 'example-q', e.question));
      b.addEventListener('click', () => use(file, e.question));
      return b;
    }),
  );
  box.replaceChildren(el('span', 'muted', 'Try:'), ...buttons);
}
