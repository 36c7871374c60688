/**
 * Streaming readers for `.json` (a top-level array) and `.jsonl` files. LLaVA's finetune JSON is ~1 GB, more
 * than V8 can hold as one string, so arrays are split into elements by a byte scanner and each element is
 * parsed on its own. Scanning bytes is safe for UTF-8: every structural character is ASCII and no byte of a
 * multi-byte sequence is below 0x80.
 */
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';

/** One parsed element, or the reason it could not be parsed, with the 1-based line it starts on. */
export type JsonItem = { value: unknown; line: number } | { error: string; line: number };

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const NEWLINE = 0x0a;

function isSpace(b: number): boolean {
  return b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d;
}

function parse(text: string, line: number): JsonItem {
  try {
    return { value: JSON.parse(text), line };
  } catch (e) {
    return { error: (e as Error).message, line };
  }
}

/**
 * Yields the elements of a JSON file whose top level is an array. A file whose top level is an object (e.g.
 * `{"data": [...]}`) is parsed whole and its `data` array yielded. Structural errors (no array, unterminated
 * input) throw naming the file and line; a malformed element is yielded as `{error}` so callers may skip it.
 */
export async function* readJsonArray(file: string): AsyncGenerator<JsonItem> {
  const stream = createReadStream(file);
  let line = 1;
  let started = false; // seen the opening '['
  let ended = false; // seen the closing ']'
  let inElement = false;
  let container = false; // the current element is an object/array (ends at its closing bracket)
  let depth = 0;
  let inString = false;
  let escaped = false;
  let parts: Buffer[] = [];
  let elementLine = 0;
  let needSeparator = false; // an element ended; the next byte must be ',' or ']'
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    let partStart = inElement ? 0 : -1; // where the current element starts within this chunk
    const finish = function* (endExclusive: number): Generator<JsonItem> {
      parts.push(chunk.subarray(partStart, endExclusive));
      const text = Buffer.concat(parts).toString('utf8');
      parts = [];
      inElement = false;
      partStart = -1;
      needSeparator = true;
      yield parse(text, elementLine);
    };
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i];
      if (b === NEWLINE) line++;
      if (inString) {
        if (escaped) escaped = false;
        else if (b === BACKSLASH) escaped = true;
        else if (b === QUOTE) inString = false;
        continue;
      }
      if (ended) {
        if (!isSpace(b)) throw new Error(`${file}:${line}: unexpected data after the closing "]"`);
        continue;
      }
      if (!started) {
        if (isSpace(b) || b === 0xef || b === 0xbb || b === 0xbf) continue; // whitespace or a UTF-8 BOM
        if (b === 0x7b /* { */) {
          stream.destroy();
          yield* readWholeJson(file);
          return;
        }
        if (b !== 0x5b /* [ */) throw new Error(`${file}:${line}: expected a JSON array of rows (or {"data": [...]})`);
        started = true;
        continue;
      }
      if (!inElement) {
        // Between elements: skip separators, detect the end of the array or the start of an element.
        if (isSpace(b)) continue;
        if (b === 0x2c /* , */) {
          needSeparator = false;
          continue;
        }
        if (b === 0x5d /* ] */) {
          ended = true;
          continue;
        }
        if (needSeparator) throw new Error(`${file}:${line}: expected "," or "]" between rows`);
        inElement = true;
        partStart = i;
        elementLine = line;
        container = b === 0x7b || b === 0x5b;
        depth = 0;
      }
      if (b === QUOTE) inString = true;
      else if (b === 0x7b || b === 0x5b) depth++;
      else if (b === 0x7d || (b === 0x5d && depth > 0)) {
        depth--;
        if (container && depth === 0) yield* finish(i + 1);
      } else if (!container && (b === 0x2c || b === 0x5d)) {
        // A scalar element (a malformed row, reported as such) ends at the separator after it.
        yield* finish(i);
        needSeparator = false; // this byte is the separator
        if (b === 0x5d) ended = true;
      }
    }
    if (inElement) parts.push(chunk.subarray(partStart));
  }
  if (!started) throw new Error(`${file}: empty file (expected a JSON array of rows)`);
  if (!ended) throw new Error(`${file}:${line}: unexpected end of file inside the top-level array`);
}

async function* readWholeJson(file: string): AsyncGenerator<JsonItem> {
  const text = await readFile(file, 'utf8');
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new Error(`${file}: invalid JSON: ${(e as Error).message}`);
  }
  const data = (doc as { data?: unknown }).data;
  if (!Array.isArray(data)) throw new Error(`${file}: a JSON object at the top level must hold the rows in "data": [...]`);
  for (const value of data) yield { value, line: 1 };
}

/** Yields each non-blank line of a JSONL file, parsed, with its 1-based line number. */
export async function* readJsonLines(file: string): AsyncGenerator<JsonItem> {
  const lines = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
  let line = 0;
  for await (const text of lines) {
    line++;
    if (text.trim() === '') continue;
    yield parse(line === 1 ? text.replace(/^\uFEFF/, '') : text, line);
  }
}
