/**
 * Which kind does a model say after "A <colour>" in a caption of this picture, with each colour word in that
 * slot? Teacher-forced: the answer is given up to the colour word (after an optional `--before` prefix, e.g.
 * "A blue star and "), and the probabilities of the five kind words at the next position are printed, one line per
 * colour word. Written for issue #17 to tell whether a misnamed held-out pair comes from the colour word before
 * the kind (the kind would follow the word) or from the picture (the kind stays, whatever the word):
 * bench/RESULTS.md, "Where the pair captions go wrong".
 *
 *   npx tsx scripts/probe-caption-kind.ts --model models/demo --image examples/red-circle.png \
 *     [--prompt "Write a caption for <image>."] [--before "A blue star and "]
 */
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { tf } from '../src/tf.js';
import { initRuntime } from '../node/runtime.js';
import { openSource } from '../node/folder-source.js';
import { localLoader } from '../node/media-local.js';
import { loadLMM } from '../src/lmm/load.js';
import { collate } from '../src/data/collate.js';
import { COLOUR_NAMES, nounPhrase, SHAPE_KINDS } from '../src/data/shapes.js';

const { values: opt } = parseArgs({
  options: {
    model: { type: 'string', default: 'models/demo' },
    image: { type: 'string' },
    prompt: { type: 'string', default: 'Write a caption for <image>.' },
    before: { type: 'string', default: '' },
  },
});
if (!opt.image) throw new Error('--image is required');
// Checked before the model loads, so a typo is a one-line error rather than a failure deep in preprocessing.
if (!/^(https?|data):/.test(opt.image) && !existsSync(opt.image)) throw new Error(`--image ${opt.image}: no such file`);

await initRuntime({});
const lmm = await loadLMM(opt.model!, { open: openSource });
// A kind word's first token stands for the word (each is one token in the demo's tokenizer).
const firstToken = (word: string) => lmm.tokenizer.encode(` ${word}`)[0];
const kindIds = SHAPE_KINDS.map(firstToken);
for (const colour of COLOUR_NAMES) {
  // The kind written here is only a placeholder to locate the position; its own probability is not used.
  const np = nounPhrase({ colour, kind: SHAPE_KINDS[0] });
  const said = opt.before ? np : `${np[0].toUpperCase()}${np.slice(1)}`;
  const answer = `${opt.before}${said}.`;
  const phrase = said.slice(0, -` ${SHAPE_KINDS[0]}`.length);
  const row = { id: colour, messages: [{ role: 'user', content: opt.prompt! }, { role: 'assistant', content: answer }], images: [opt.image] };
  const { batch } = collate([lmm.encodeRow(row)], { maxLength: lmm.lm.config.maxPositionEmbeddings, padTokenId: lmm.tokenizer.padTokenId, tokenWidths: lmm.tokenWidths });
  if (!batch) throw new Error(`${opt.image}: the prompt does not fit the model`);
  const features = await lmm.encode(await lmm.preprocess(batch.items, batch.ids, { loadBytes: localLoader() }), batch.layout, batch.ids);
  const { logits, loss } = lmm.forward(batch, features);
  // The placeholder kind is the last kind-word label; the logits one position earlier predict it.
  const pos = batch.labels[0].lastIndexOf(kindIds[0]);
  if (pos < 1) throw new Error(`${opt.model}: its tokenizer does not give " ${SHAPE_KINDS[0]}" token ${kindIds[0]} inside the answer "${answer}"`);
  const probs = tf.tidy(() => tf.softmax(tf.reshape(tf.slice(logits, [0, pos - 1, 0], [1, 1, -1]), [-1])));
  const p = (await probs.data()) as Float32Array;
  console.log(`${phrase.padEnd(9)} → ${SHAPE_KINDS.map((k, i) => `${k} ${(p[kindIds[i]] * 100).toFixed(1)}%`).join('  ')}`);
  for (const t of [probs, logits, loss, ...features]) t?.dispose();
}
