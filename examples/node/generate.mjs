// Answer a question about an image with a multimodal checkpoint, in Node.
// Usage: node examples/node/generate.mjs <model folder or URL> <image file> ["question"]
import { readFile } from 'node:fs/promises';
import { loadLMM, generateBatch, selectNodeBackend } from 'multi-token';

const [model, image, question = 'Describe the picture.'] = process.argv.slice(2);
if (!model || !image) {
  console.error('usage: node generate.mjs <model folder or URL> <image file> ["question"]');
  process.exit(2);
}

await selectNodeBackend(); // tfjs-node(-gpu) when installed, else wasm
const lmm = await loadLMM(model);
const [answer] = await generateBatch(lmm, [
  { messages: [{ role: 'user', content: `<image>\n${question}` }], images: [await readFile(image)] },
], { maxNewTokens: 64 });
console.log(answer.text);
