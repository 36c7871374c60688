/**
 * Regenerates `test/fixtures/bert-ids-hf.json`: the tiny BERT tokenizer's ids for every text of
 * `test/fixtures/bert-ref.json`, computed by Hugging Face's Rust `tokenizers` (`bench/reference/bert_ids_hf.py`)
 * from the same tokenizer.json, so the ids the BERT test expects are checked against the reference
 * implementation as well as against wordpiece_ref.py.
 *
 *   python3 -m venv /tmp/tok && /tmp/tok/bin/pip install --no-index --no-deps tokenizers-*.whl
 *   PYTHON=/tmp/tok/bin/python npx tsx bench/reference/make_bert_ids_hf_fixture.ts
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeTinyBert } from '../../src/tiny/tiny-bert.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const ref = JSON.parse(readFileSync(join(root, 'test/fixtures/bert-ref.json'), 'utf8')) as {
  cases: { options: { vocabSize?: number }; texts: (string | [string, string])[] }[];
  tokenizer_cases: { text: string | [string, string] }[];
};
// The vocabulary depends on vocabSize alone; every case uses the default one.
for (const c of ref.cases) if (c.options.vocabSize !== undefined) throw new Error('a case with its own vocabSize: extend this script');
const texts = [...ref.cases.flatMap((c) => c.texts), ...ref.tokenizer_cases.map((t) => t.text)];

const dir = mkdtempSync(join(tmpdir(), 'bert-ids-hf-'));
try {
  const file = join(dir, 'tokenizer.json');
  writeFileSync(file, makeTinyBert().get('tokenizer.json')!);
  const out = execFileSync(process.env.PYTHON ?? 'python3', [join(here, 'bert_ids_hf.py'), file], { input: JSON.stringify(texts), encoding: 'utf8' });
  const { tokenizers, encodings } = JSON.parse(out) as { tokenizers: string; encodings: { input_ids: number[]; token_type_ids: number[] }[] };
  const fixture = {
    about: `ids of the tiny BERT tokenizer (makeTinyBert().get('tokenizer.json')) from Hugging Face tokenizers ${tokenizers} (Rust); made by bench/reference/make_bert_ids_hf_fixture.ts`,
    cases: texts.map((text, i) => ({ text, ...encodings[i]! })),
  };
  writeFileSync(join(root, 'test/fixtures/bert-ids-hf.json'), JSON.stringify(fixture) + '\n');
  process.stdout.write(JSON.stringify({ texts: texts.length, tokenizers }) + '\n');
} finally {
  rmSync(dir, { recursive: true, force: true });
}
