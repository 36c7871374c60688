/**
 * The safetensors header on its own: validating a header read from the start of a file (so a reader can fetch
 * tensors one at a time by byte range instead of holding the whole file), and laying out a header for a writer
 * that streams tensor data after it. `parseSafetensors` and `serializeSafetensors` (safetensors.ts) are built on
 * these, so whole-file and streamed I/O agree byte for byte.
 */
import { SafetensorsError, bytesPerElement, compareCodePoints, isCount, isDType, shapeSize, type DType } from './safetensors-types.js';

/** One tensor's place in a file: `begin`/`end` are byte offsets into the data area (after the header). */
export interface SafetensorsEntry {
  name: string;
  dtype: DType;
  shape: number[];
  begin: number;
  end: number;
}

/** What a writer declares before streaming data: name, dtype and shape. */
export interface TensorSpec {
  name: string;
  dtype: DType;
  shape: number[];
}

/** The reference implementation's dtype order (increasing alignment); writing sorts by it, descending. */
const ALIGN_ORDER: DType[] = ['BOOL', 'U8', 'I8', 'I16', 'F16', 'BF16', 'I32', 'F32', 'F64', 'I64'];
/** Same limit as the reference reader: a bigger header is a corrupt or hostile file. */
const MAX_HEADER_BYTES = 100_000_000;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * The JSON header's length from a file's first 8 bytes (little-endian u64), checked against the file size.
 * The header occupies bytes `[8, 8 + length)`; tensor data starts right after it.
 */
export function safetensorsHeaderLength(first8: Uint8Array, fileSize: number, fileName: string): number {
  const fail = (msg: string) => new SafetensorsError(`${fileName}: ${msg}`);
  if (first8.length < 8 || fileSize < 8) {
    throw fail(`file is ${fileSize} bytes, too short for the 8-byte header length (file truncated?)`);
  }
  const n64 = new DataView(first8.buffer, first8.byteOffset, 8).getBigUint64(0, true);
  if (n64 > BigInt(fileSize - 8)) {
    throw fail(`header length ${n64} exceeds the ${fileSize - 8} bytes after it (file truncated, or not safetensors?)`);
  }
  if (n64 > BigInt(MAX_HEADER_BYTES)) throw fail(`header length ${n64} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  return Number(n64);
}

/**
 * Validates a header (the JSON bytes only) against the size of the data area that follows it. Entries come back
 * in header order. Throws `SafetensorsError` naming the file and tensor for invalid UTF-8/JSON, unknown dtypes,
 * bad shapes, offsets outside the data area or disagreeing with shape×dtype, overlaps, gaps and trailing bytes.
 */
export function parseSafetensorsHeader(
  json: Uint8Array,
  dataSize: number,
  fileName: string,
): { entries: SafetensorsEntry[]; metadata: Record<string, string> } {
  const fail = (msg: string) => new SafetensorsError(`${fileName}: ${msg}`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(json);
  } catch {
    throw fail('header is not valid UTF-8');
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    throw fail(`header is not valid JSON: ${(e as Error).message}`);
  }
  if (!isRecord(header)) throw fail('header is not a JSON object');

  let metadata: Record<string, string> = {};
  const entries: SafetensorsEntry[] = [];
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') {
      if (!isRecord(info)) throw fail('__metadata__ is not a JSON object');
      for (const [k, v] of Object.entries(info)) {
        if (typeof v !== 'string') throw fail(`__metadata__ "${k}" is ${JSON.stringify(v)}, not a string`);
      }
      metadata = Object.fromEntries(Object.entries(info)) as Record<string, string>; // fromEntries: "__proto__" safe
      continue;
    }
    const where = `tensor "${name}"`;
    if (!isRecord(info)) throw fail(`${where}: header entry is not an object`);
    const { dtype, shape, data_offsets: offsets } = info;
    if (!isDType(dtype)) {
      throw fail(`${where}: unknown dtype ${JSON.stringify(dtype)} (supported: ${ALIGN_ORDER.join(', ')})`);
    }
    if (!Array.isArray(shape) || !shape.every(isCount)) {
      throw fail(`${where}: shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount) || offsets[0] > offsets[1]) {
      throw fail(`${where}: data_offsets ${JSON.stringify(offsets)} is not [begin, end] with 0 <= begin <= end`);
    }
    const [begin, end] = offsets as [number, number];
    if (end > dataSize) {
      throw fail(`${where} data_offsets [${begin}, ${end}] exceed data size ${dataSize} (file truncated?)`);
    }
    const nbytes = shapeSize(shape) * bytesPerElement(dtype);
    if (end - begin !== nbytes) {
      throw fail(
        `${where}: data_offsets [${begin}, ${end}] hold ${end - begin} bytes, but ${dtype} [${shape.join(', ')}] ` +
          `needs ${nbytes}`,
      );
    }
    entries.push({ name, dtype, shape: [...shape], begin, end });
  }

  // Like the reference reader, the tensors must tile the data area exactly: no overlap, no gap, no tail.
  const byOffset = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  let prev: SafetensorsEntry | undefined;
  for (const e of byOffset) {
    const span = `[${e.begin}, ${e.end}]`;
    if (e.begin < cursor) {
      const other = `tensor "${prev?.name}" [${prev?.begin}, ${prev?.end}]`;
      throw fail(`tensor "${e.name}" data_offsets ${span} overlap ${other}`);
    }
    if (e.begin > cursor) {
      throw fail(`tensor "${e.name}" data_offsets ${span} leave ${e.begin - cursor} unused bytes before them`);
    }
    cursor = e.end;
    prev = e;
  }
  if (cursor !== dataSize) {
    const extra = dataSize - cursor;
    throw fail(`${extra} bytes after the last tensor's data (data size ${dataSize}, tensors cover ${cursor})`);
  }
  return { entries, metadata };
}

/**
 * The header bytes (length prefix + JSON padded with spaces to a multiple of 8) and data layout the Python
 * `safetensors` library would write for these tensors: sorted by descending dtype alignment, then by name, data
 * contiguous. A streaming writer writes `header`, then each entry's bytes in `entries` order.
 */
export function safetensorsLayout(
  specs: TensorSpec[],
  metadata?: Record<string, string>,
): { header: Uint8Array; entries: SafetensorsEntry[]; dataBytes: number } {
  const seen = new Set<string>();
  for (const t of specs) {
    const where = `cannot serialize tensor "${t.name}"`;
    if (t.name === '__metadata__') throw new SafetensorsError(`${where}: the name is reserved`);
    if (seen.has(t.name)) throw new SafetensorsError(`${where}: the name appears twice`);
    seen.add(t.name);
    if (!isDType(t.dtype)) throw new SafetensorsError(`${where}: unknown dtype ${JSON.stringify(t.dtype)}`);
    if (!Array.isArray(t.shape) || !t.shape.every(isCount)) {
      throw new SafetensorsError(`${where}: shape ${JSON.stringify(t.shape)} is not a list of non-negative integers`);
    }
  }
  const rank = (d: DType) => ALIGN_ORDER.indexOf(d);
  const sorted = [...specs].sort((a, b) => rank(b.dtype) - rank(a.dtype) || compareCodePoints(a.name, b.name));

  // Built as entries + Object.fromEntries so a tensor called "__proto__" is an ordinary key.
  const header: [string, unknown][] = [];
  if (metadata !== undefined) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new SafetensorsError(`metadata "${k}" is ${JSON.stringify(v)}, not a string`);
    }
    header.push(['__metadata__', metadata]);
  }
  let offset = 0;
  const entries: SafetensorsEntry[] = [];
  for (const t of sorted) {
    const nbytes = shapeSize(t.shape) * bytesPerElement(t.dtype);
    entries.push({ name: t.name, dtype: t.dtype, shape: [...t.shape], begin: offset, end: offset + nbytes });
    header.push([t.name, { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + nbytes] }]);
    offset += nbytes;
  }
  const json = new TextEncoder().encode(JSON.stringify(Object.fromEntries(header)));
  const padded = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + padded);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + padded);
  return { header: out, entries, dataBytes: offset };
}
