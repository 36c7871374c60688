/**
 * Regenerates `test/fixtures/bert-ref.json`: expected `last_hidden_state` and GTE mean-pooled embeddings from the
 * independent PyTorch reference (`bench/reference/bert_ref.py`, float64) for tiny random BERT checkpoints, on token
 * ids from the independent Python WordPiece tokenizer (`bench/reference/wordpiece_ref.py`), never from the
 * tokenizer under test; plus tokenizer-only cases (accents, punctuation, CJK, unknown words, control characters).
 *
 *   npx tsx bench/reference/make_bert_fixture.ts            # needs python3 with torch + numpy
 *   PYTHON=/usr/bin/python3 npx tsx bench/reference/make_bert_fixture.ts
 *
 * Weights are not stored in the fixture: `makeTinyBert(options)` is deterministic, and the test rebuilds the
 * same folder from the options kept in each case.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeTinyBert, type TinyBertOptions } from '../../src/tiny/tiny-bert.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const OUT = join(root, 'test/fixtures/bert-ref.json');
const REF = join(here, 'bert_ref.py');
const TOKENIZER = join(here, 'wordpiece_ref.py');

interface CaseSpec {
  name: string;
  why: string;
  options: TinyBertOptions;
  /** One text per row, or a text pair (token types 0 then 1). */
  texts: (string | [string, string])[];
}

const CASES: CaseSpec[] = [
  {
    name: 'gte-layout',
    why: 'GTE weight names (no prefix, pooler present), right-padded batch of 2',
    options: { seed: 21 },
    texts: ['The red circle is next to the blue square.', 'A dog barks.'],
  },
  {
    name: 'bert-prefix-pairs',
    why: '"bert." prefix, 3 heads of 16, 3 layers, token type ids from a text pair, padding in row 0',
    options: { seed: 22, prefix: 'bert.', hiddenSize: 48, heads: 3, layers: 3, intermediate: 96 },
    texts: ['Count the dots.', ['What is in this picture?', 'A cat on a chair.']],
  },
];

/** Texts for the tokenizer alone: what BertNormalizer, BertPreTokenizer and WordPiece each have to get right. */
const TOKENIZER_TEXTS: (string | [string, string])[] = [
  'The RED circle, next to the Blue square!',
  'Café déjà-vu: naïve façade (résumé).',
  "don't stop... 3.14 + 2=5; x_y @home #1",
  'tabs\tand\nnewlines  and\u00a0non-breaking spaces',
  'a bell\u0007 and a zero\u200bwidth space',
  '東京 is 2 ideographs; ☃ and 🙂 are unknown words',
  'supercalifragilisticexpialidocious redness circles',
  ['Is there a star?', 'No, a triangle.'],
];

/** Token ids and type ids of `texts` by the independent Python WordPiece tokenizer. */
function referenceTokens(py: string, tokenizerJson: string, texts: (string | [string, string])[], dir: string): { input_ids: number[]; token_type_ids: number[] }[] {
  writeFileSync(join(dir, 'tokenizer.json'), tokenizerJson);
  writeFileSync(join(dir, 'texts.json'), JSON.stringify(texts));
  execFileSync(py, [TOKENIZER, join(dir, 'tokenizer.json'), join(dir, 'texts.json'), join(dir, 'tokens.json')], { stdio: 'inherit' });
  return JSON.parse(readFileSync(join(dir, 'tokens.json'), 'utf8')) as { input_ids: number[]; token_type_ids: number[] }[];
}

function findPython(): string {
  const candidates = [process.env.PYTHON, 'python3', '/usr/bin/python3'].filter((x): x is string => !!x);
  for (const py of candidates) {
    if (spawnSync(py, ['-c', 'import torch, numpy'], { stdio: 'ignore' }).status === 0) return py;
  }
  throw new Error(`no python with torch + numpy found (tried ${candidates.join(', ')}); set PYTHON`);
}

const sig7 = (x: number) => Number(x.toPrecision(7));

async function main(): Promise<void> {
  const py = findPython();
  const tmp = mkdtempSync(join(tmpdir(), 'bert-ref-'));
  const cases: unknown[] = [];
  const tokenizerCases: unknown[] = [];
  try {
    for (const spec of CASES) {
      const files = makeTinyBert(spec.options);
      const dir = join(tmp, spec.name);
      mkdirSync(dir);
      const tokenizerJson = new TextDecoder().decode(files.get('tokenizer.json')!);
      const rows = referenceTokens(py, tokenizerJson, spec.texts, dir).map((e) => ({ ids: e.input_ids, types: e.token_type_ids }));
      const T = Math.max(...rows.map((r) => r.ids.length));
      const pad = (a: number[]) => [...a, ...new Array<number>(T - a.length).fill(0)];
      const input = {
        input_ids: rows.map((r) => pad(r.ids)),
        attention_mask: rows.map((r) => pad(r.ids.map(() => 1))),
        token_type_ids: rows.map((r) => pad(r.types)),
      };
      for (const [name, bytes] of files) writeFileSync(join(dir, name), bytes);
      writeFileSync(join(dir, 'input.json'), JSON.stringify(input));
      execFileSync(py, [REF, dir, join(dir, 'input.json'), join(dir, 'output.json'), '--dtype=float64'], {
        stdio: 'inherit',
      });
      const out = JSON.parse(readFileSync(join(dir, 'output.json'), 'utf8')) as {
        last_hidden_state: number[][][];
        mean_pooled: number[][];
      };
      cases.push({
        name: spec.name,
        why: spec.why,
        options: spec.options,
        texts: spec.texts,
        input,
        last_hidden_state: out.last_hidden_state.map((r) => r.map((v) => v.map(sig7))),
        mean_pooled: out.mean_pooled.map((v) => v.map(sig7)),
      });
    }
    const tokDir = join(tmp, 'tokenizer');
    mkdirSync(tokDir);
    const tokenizerJson = new TextDecoder().decode(makeTinyBert({}).get('tokenizer.json')!);
    const expected = referenceTokens(py, tokenizerJson, TOKENIZER_TEXTS, tokDir);
    tokenizerCases.push(...TOKENIZER_TEXTS.map((text, i) => ({ text, ...expected[i]! })));
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  const fixture = {
    about:
      'Expected BertModel last_hidden_state and GTE average_pool from bench/reference/bert_ref.py (independent ' +
      'PyTorch re-implementation of HF BertModel, float64) for makeTinyBert(options) checkpoints; token ids come ' +
      'from bench/reference/wordpiece_ref.py (an independent Python WordPiece), as do tokenizer_cases (for ' +
      'makeTinyBert({})). 7 significant digits. Regenerate: npx tsx bench/reference/make_bert_fixture.ts',
    cases,
    tokenizer_cases: tokenizerCases,
  };
  writeFileSync(OUT, JSON.stringify(fixture) + '\n');
  console.log(`wrote ${OUT} (${cases.length} cases)`);
}

await main();
