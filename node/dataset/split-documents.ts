/**
 * `multi-token dataset split-documents`: the seed's document datasets pass long texts through
 * `split_text_into_documents` and write one `<document>` per piece (document_build_*_dataset.py). This does it to
 * an existing dataset: each text item of `documents` (or `--key`) longer than the window becomes its pieces, and
 * the matching `<document>` in the messages is repeated once per piece, so rows stay valid.
 */
import { loadTokenizer } from '../../src/io/tokenizer.js';
import { splitTextIntoDocuments, GTE_CONTEXT_WINDOW } from '../../src/modality/document-gte/split-documents.js';
import { documentText } from '../../src/media/document-text.js';
import type { PlainRow } from '../../src/data/arrow-rows.js';
import { openSource } from '../folder-source.js';
import { localLoader } from '../media-local.js';
import { readDataset } from './read-dataset.js';
import { writeDataset, type OutputFormat } from './write-dataset.js';

export interface SplitDocumentsOptions {
  input: string;
  out: string;
  /** The tokenizer that counts tokens: a GTE folder or Hugging Face id (default the seed's thenlper/gte-large). */
  encoder?: string;
  key?: string;
  token?: string;
  maxTokens?: number;
  format?: OutputFormat;
}

/** Replaces the `n`-th occurrence of `token` across the user messages with `token` repeated `k` times. */
function repeatNth(messages: { role: string; content: string }[], token: string, n: number, k: number): boolean {
  let seen = 0;
  for (const m of messages) {
    const parts = m.content.split(token);
    if (seen + parts.length - 1 > n) {
      const at = n - seen;
      m.content = parts.slice(0, at + 1).join(token) + token.repeat(k) + parts.slice(at + 1).join(token);
      return true;
    }
    seen += parts.length - 1;
  }
  return false;
}

export async function splitDocumentsDataset(o: SplitDocumentsOptions, log: (s: string) => void = () => {}): Promise<{ rows: number; split: number; file: string }> {
  const key = o.key ?? 'documents';
  const token = o.token ?? '<document>';
  const tokenizer = await loadTokenizer(openSource(o.encoder ?? 'thenlper/gte-large'));
  const ds = await readDataset(o.input);
  const loadBytes = localLoader({ baseDir: ds.baseDir });
  let split = 0;
  const rows: PlainRow[] = [];
  for (const [i, row] of ds.rows.entries()) {
    const items = row[key];
    if (!Array.isArray(items)) {
      rows.push(row);
      continue;
    }
    const messages = (row.messages as { role: string; content: string }[]).map((m) => ({ ...m }));
    const out: unknown[] = [];
    for (const [j, item] of items.entries()) {
      const text = await documentText(item, `row ${JSON.stringify(row.id ?? i)}: ${key}[${j}]`, { loadBytes });
      const pieces = splitTextIntoDocuments(text, tokenizer, { maxTokens: o.maxTokens ?? GTE_CONTEXT_WINDOW });
      if (pieces.length > 1) {
        if (!repeatNth(messages, token, out.length, pieces.length)) throw new Error(`row ${JSON.stringify(row.id ?? i)}: ${key}[${j}] has no ${token} in the messages`);
        split++;
      }
      // Pieces are stored as {text} so a piece that looks like a file name is never read as one.
      out.push(...(pieces.length > 1 ? pieces.map((t) => ({ text: t })) : [item]));
    }
    rows.push({ ...row, messages, [key]: out });
  }
  const file = await writeDataset(o.out, rows, o.format ?? 'jsonl');
  log(`${rows.length} rows, ${split} document(s) split into pieces of ≤ ${o.maxTokens ?? GTE_CONTEXT_WINDOW} tokens → ${file}`);
  return { rows: rows.length, split, file };
}
