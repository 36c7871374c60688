/**
 * `multi-token dataset llava`: converts LLaVA's pretrain/finetune JSON (`[{id, image, conversations: [{from:
 * 'human'|'gpt', value}]}]`) to the seed's schema (`{id, messages: [{role, content}], images: [absolute path]}`),
 * as the seed's `scripts/llava_build_{pretrain,finetune}_dataset.py` do — but reporting every skipped row with
 * its reason instead of printing and moving on.
 *
 * Differences from the seed's scripts, each deliberate:
 * - `<image>` goes where LLaVA's own training puts it (`preprocess_multimodal`): removed from the turn and
 *   prepended as `<image>\n`. A single-image row whose text lacks the token gets it on the first human turn,
 *   since a row's token count must equal its image count.
 * - An image missing at `<images>/<path>` is also looked for at the layout the seed's finetune script expects
 *   (`coco/train2017/x.jpg` → `coco/train2017/train2017/x.jpg`, its `_fix_path`).
 * - Rows with several images (`image: [...]`) are kept when their `<image>` count matches.
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import type { PlainRow } from '../../src/data/arrow-rows.js';
import { readJsonArray } from './json-stream.js';
import { JsonlWriter, writeSaveToDisk, type OutputFormat } from './write-dataset.js';

const IMAGE_TOKEN = '<image>';
const ROLES: Record<string, string> = { human: 'user', gpt: 'assistant', system: 'system', user: 'user', assistant: 'assistant' };

export interface LlavaConvertOptions {
  /** LLaVA JSON files (rows are concatenated in order). */
  inputs: string[];
  /** Folder the rows' `image` paths are relative to. */
  images: string;
  out: string;
  /** Default `jsonl` (`<out>/train.jsonl`); `arrow` writes a `save_to_disk` folder at `<out>`. */
  format?: OutputFormat;
  /** Keep rows without an image as text-only rows (the seed's scripts drop them). Default false. */
  keepTextOnly?: boolean;
  log?: (line: string) => void;
}

export interface ConversionReport {
  converted: number;
  /** Skipped rows per reason, with the first few ids for each. */
  skipped: Record<string, { count: number; ids: string[] }>;
  /** Rows whose `<image>` token was added or moved to LLaVA's placement. */
  imageTokenFixed: number;
  out: string;
}

class Skip extends Error {}

function countToken(text: string): number {
  return text.split(IMAGE_TOKEN).length - 1;
}

/** `<image>` first, then a newline, then the rest of the turn (LLaVA's `preprocess_multimodal`). */
function llavaPlacement(text: string): string {
  return `${IMAGE_TOKEN}\n${text.split(IMAGE_TOKEN).join('').trim()}`.trim();
}

function findImage(root: string, rel: string): string {
  const direct = path.resolve(root, rel);
  if (existsSync(direct)) return direct;
  const parts = rel.split('/');
  if (parts.length >= 2) {
    const seedLayout = path.resolve(root, parts[0], parts[1], parts[1], ...parts.slice(2));
    if (existsSync(seedLayout)) return seedLayout;
  }
  throw new Skip('missing image file');
}

/** Converts one LLaVA row; throws `Skip` with the reason for rows that cannot be used. */
export function convertLlavaRow(raw: unknown, imagesDir: string, keepTextOnly = false): { row: PlainRow; fixed: boolean } {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new Skip('not a JSON object');
  const r = raw as { id?: unknown; image?: unknown; conversations?: unknown };
  if (!Array.isArray(r.conversations) || r.conversations.length === 0) throw new Skip('no conversations');
  const messages = r.conversations.map((m: { from?: unknown; value?: unknown }) => {
    const role = typeof m?.from === 'string' ? ROLES[m.from] : undefined;
    if (!role) throw new Skip('unknown speaker in conversations (expected human/gpt)');
    if (typeof m.value !== 'string') throw new Skip('conversation value is not a string');
    return { role, content: m.value };
  });
  const rels = r.image === undefined || r.image === null ? [] : Array.isArray(r.image) ? r.image : [r.image];
  if (rels.some((p) => typeof p !== 'string' || p === '')) throw new Skip('image is not a path');
  if (rels.length === 0 && !keepTextOnly) throw new Skip('no image (text-only row)');
  const images = (rels as string[]).map((p) => findImage(imagesDir, p));
  if (messages.some((m) => m.role !== 'user' && m.content.includes(IMAGE_TOKEN))) throw new Skip('<image> outside a human turn');
  let fixed = false;
  const inText = messages.reduce((n, m) => n + countToken(m.content), 0);
  if (images.length === 1) {
    const firstUser = messages.findIndex((m) => m.role === 'user');
    if (firstUser === -1) throw new Skip('no human turn to hold <image>');
    if (inText === 0) {
      messages[firstUser].content = `${IMAGE_TOKEN}\n${messages[firstUser].content.trim()}`;
      fixed = true;
    } else if (inText > 1) {
      throw new Skip('more <image> tokens than images');
    } else {
      for (const m of messages) {
        if (!m.content.includes(IMAGE_TOKEN)) continue;
        const placed = llavaPlacement(m.content);
        fixed ||= placed !== m.content;
        m.content = placed;
      }
    }
  } else if (inText !== images.length) {
    throw new Skip('<image> token count differs from image count');
  }
  const id = r.id === undefined || r.id === null ? undefined : String(r.id);
  const row: PlainRow = id === undefined ? {} : { id };
  row.messages = messages;
  row.images = images;
  return { row, fixed };
}

/**
 * Converts LLaVA JSON files to the seed's schema and writes them (see the module comment). JSONL output is
 * streamed, so LLaVA's ~1 GB finetune JSON converts without holding it in memory; `arrow` output collects
 * the rows first.
 */
export async function convertLlava(opts: LlavaConvertOptions): Promise<ConversionReport> {
  const imagesDir = path.resolve(opts.images);
  if (!existsSync(imagesDir)) throw new Error(`dataset llava: image folder not found: ${imagesDir}`);
  const format = opts.format ?? 'jsonl';
  const report: ConversionReport = { converted: 0, skipped: {}, imageTokenFixed: 0, out: path.resolve(opts.out) };
  const collected: PlainRow[] = [];
  const writer = format === 'jsonl' ? await JsonlWriter.open(path.join(report.out, 'train.jsonl')) : null;
  const skip = (reason: string, id: string) => {
    const s = (report.skipped[reason] ??= { count: 0, ids: [] });
    s.count++;
    if (s.ids.length < 5) s.ids.push(id);
  };
  try {
    for (const file of opts.inputs) {
      let n = 0;
      for await (const item of readJsonArray(file)) {
        n++;
        const fallbackId = `${path.basename(file)}:${item.line}`;
        if ('error' in item) {
          skip('malformed JSON', fallbackId);
          continue;
        }
        const rawId = (item.value as { id?: unknown } | null)?.id;
        const id = rawId === undefined || rawId === null ? fallbackId : String(rawId);
        let converted: { row: PlainRow; fixed: boolean };
        try {
          converted = convertLlavaRow(item.value, imagesDir, opts.keepTextOnly);
        } catch (e) {
          if (!(e instanceof Skip)) throw e;
          skip(e.message, id);
          continue;
        }
        const row = converted.row.id === undefined ? { id: fallbackId, ...converted.row } : converted.row;
        if (converted.fixed) report.imageTokenFixed++;
        report.converted++;
        if (writer) await writer.write(row);
        else collected.push(row);
      }
      opts.log?.(`${file}: ${n} rows read`);
    }
    if (writer) await writer.close();
    else await writeSaveToDisk(report.out, collected);
  } catch (e) {
    await writer?.abort();
    throw e;
  }
  return report;
}
