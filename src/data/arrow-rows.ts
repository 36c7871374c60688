/**
 * Dataset rows ⇄ Arrow record batches, laid out as Hugging Face `datasets` writes them (`save_to_disk`):
 * `id: string`, `messages: list<struct<role: string, content: string>>`, `images: list<string>`, … with the
 * schema metadata key `huggingface` = `{"info": {"features": …}, "fingerprint": …}`. Isomorphic: file and
 * folder handling lives in `node/dataset/`.
 */
import {
  Binary,
  Bool,
  Data,
  DataType,
  Field,
  Float64,
  Int64,
  List,
  RecordBatch,
  Schema,
  Struct,
  Table,
  Utf8,
  Vector,
  makeData,
  makeVector,
  vectorFromArray,
  type TypeMap,
} from 'apache-arrow';

/** A dataset row as plain JS values. */
export type PlainRow = Record<string, unknown>;

function isStructRow(v: object): v is { toJSON(): Record<string, unknown> } {
  return typeof (v as { toJSON?: unknown }).toJSON === 'function' && !(v instanceof Vector);
}

/**
 * Converts one Arrow cell to a plain JS value: lists → arrays, structs → objects, int64 → number (string when
 * beyond 2^53, where a number would silently change the value). HF `Image`/`Audio` cells (`struct<bytes,
 * path>`) become their bytes when embedded, else their path, which is what the modalities accept.
 */
export function arrowToPlain(v: unknown): unknown {
  if (v === null || v === undefined) return v ?? null;
  if (typeof v === 'bigint') return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
  if (typeof v !== 'object') return v;
  if (v instanceof Uint8Array) return v;
  if (v instanceof Vector) return Array.from(v as Vector, arrowToPlain);
  if (isStructRow(v)) {
    const obj: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v.toJSON())) obj[k] = arrowToPlain(x);
    const keys = Object.keys(obj);
    if (keys.length === 2 && 'bytes' in obj && 'path' in obj) return obj.bytes ?? obj.path;
    return obj;
  }
  if (ArrayBuffer.isView(v)) return Array.from(v as unknown as ArrayLike<number>);
  return v;
}

/**
 * Converts a whole column chunk at once. Lists and structs are decoded through their child columns (one pass
 * per child, then slicing by offsets): ~2.7× faster than a proxy per cell on LLaVA-like rows. Other
 * types, and sliced data, go cell by cell through `arrowToPlain`.
 */
function plainColumn(data: Data): unknown[] {
  const n = data.length;
  const out = new Array<unknown>(n);
  const t = data.type;
  if (data.offset === 0 && DataType.isList(t) && data.children.length === 1) {
    const child = plainColumn(data.children[0]);
    const offsets = data.valueOffsets as Int32Array;
    for (let i = 0; i < n; i++) out[i] = data.getValid(i) ? child.slice(offsets[i], offsets[i + 1]) : null;
    return out;
  }
  if (data.offset === 0 && DataType.isStruct(t)) {
    const names = t.children.map((f) => f.name);
    const cols = data.children.map(plainColumn);
    const image = names.length === 2 && names.includes('bytes') && names.includes('path');
    for (let i = 0; i < n; i++) {
      if (!data.getValid(i)) {
        out[i] = null;
        continue;
      }
      const obj: Record<string, unknown> = {};
      names.forEach((name, c) => (obj[name] = cols[c][i]));
      out[i] = image ? (obj.bytes ?? obj.path) : obj;
    }
    return out;
  }
  const v = makeVector(data);
  for (let i = 0; i < n; i++) out[i] = arrowToPlain(v.get(i));
  return out;
}

/** The rows of one record batch, as plain objects with the schema's column order. */
export function rowsFromRecordBatch(batch: RecordBatch): PlainRow[] {
  const names = batch.schema.fields.map((f) => f.name);
  const cols = names.map((_, i) => plainColumn(batch.data.children[i]));
  const rows: PlainRow[] = [];
  for (let r = 0; r < batch.numRows; r++) {
    const row: PlainRow = {};
    names.forEach((name, c) => (row[name] = cols[c][r]));
    rows.push(row);
  }
  return rows;
}

// ---- writing -------------------------------------------------------------------------------------------

function describe(v: unknown): string {
  return Array.isArray(v) ? 'array' : v instanceof Uint8Array ? 'bytes' : v === null ? 'null' : typeof v;
}

/** Merges the Arrow type of `v` into `t` (null = nothing seen yet); `where` names the column for errors. */
function inferType(v: unknown, t: DataType | null, where: string): DataType | null {
  if (v === null || v === undefined) return t;
  let next: DataType;
  if (typeof v === 'string') next = new Utf8();
  else if (typeof v === 'boolean') next = new Bool();
  else if (typeof v === 'number') next = Number.isInteger(v) && !(t instanceof Float64) ? new Int64() : new Float64();
  else if (v instanceof Uint8Array) next = new Binary();
  else if (Array.isArray(v)) {
    let item = t instanceof List ? (t.children[0].type as DataType) : null;
    for (const x of v) item = inferType(x, item, `${where}[]`);
    next = new List(new Field('item', item ?? new Utf8(), true));
  } else if (typeof v === 'object') {
    const fields = new Map<string, DataType | null>((t instanceof Struct ? t.children : []).map((f) => [f.name, f.type as DataType]));
    for (const [k, x] of Object.entries(v)) fields.set(k, inferType(x, fields.get(k) ?? null, `${where}.${k}`));
    next = new Struct([...fields].map(([k, ft]) => new Field(k, ft ?? new Utf8(), true)));
  } else throw new Error(`column "${where}": cannot store a ${typeof v} in Arrow`);
  if (t === null) return next;
  if (t instanceof Int64 && next instanceof Float64) return next; // ints then floats: pyarrow widens the same way
  if (t instanceof Float64 && next instanceof Int64) return t;
  if (t.typeId !== next.typeId) throw new Error(`column "${where}": mixes ${t} and ${next} values (got a ${describe(v)})`);
  return next;
}

/** Converts a plain value to what `vectorFromArray` expects for type `t` (bigint for int64, nulls for gaps). */
function prepare(v: unknown, t: DataType): unknown {
  if (v === null || v === undefined) return null;
  if (t instanceof Int64) return BigInt(v as number);
  if (t instanceof List) return (v as unknown[]).map((x) => prepare(x, t.children[0].type as DataType));
  if (t instanceof Struct) {
    const o: Record<string, unknown> = {};
    for (const f of t.children) o[f.name] = prepare((v as Record<string, unknown>)[f.name], f.type as DataType);
    return o;
  }
  return v;
}

/** datasets' `Value` dtype of a primitive Arrow type (instanceof, not class names, which bundlers minify). */
function dtypeOf(t: DataType): string {
  if (t instanceof Utf8) return 'string';
  if (t instanceof Bool) return 'bool';
  if (t instanceof Int64) return 'int64';
  if (t instanceof Float64) return 'float64';
  if (t instanceof Binary) return 'binary';
  return String(t).toLowerCase();
}

/**
 * The HF `datasets` feature JSON of an Arrow type, in the 2.x notation the seed's datasets were saved with
 * (`Value`, `Sequence`, `[ {struct} ]` for lists of structs), which datasets 3.x/4.x still load.
 */
export function hfFeature(t: DataType): unknown {
  if (t instanceof Struct) return Object.fromEntries(t.children.map((f) => [f.name, hfFeature(f.type as DataType)]));
  if (t instanceof List) {
    const item = t.children[0].type as DataType;
    return item instanceof Struct ? [hfFeature(item)] : { feature: hfFeature(item), _type: 'Sequence' };
  }
  return { dtype: dtypeOf(t), _type: 'Value' };
}

/** The `features` object of `dataset_info.json` (and of the `huggingface` schema metadata). */
export function hfFeatures(schema: Schema): Record<string, unknown> {
  return Object.fromEntries(schema.fields.map((f) => [f.name, hfFeature(f.type as DataType)]));
}

/**
 * The Arrow schema HF would infer for these rows (columns in first-seen key order, all nullable, list items
 * named `item`), with the `huggingface` metadata. Throws naming the column when a column mixes kinds.
 */
export function inferRowsSchema(rows: readonly PlainRow[], fingerprint?: string): Schema {
  const types = new Map<string, DataType | null>();
  for (const row of rows) for (const [k, v] of Object.entries(row)) types.set(k, inferType(v, types.get(k) ?? null, k));
  const fields = [...types].map(([k, t]) => new Field(k, t ?? new Utf8(), true));
  const plain = new Schema(fields);
  const meta: Record<string, unknown> = { info: { features: hfFeatures(plain) } };
  if (fingerprint !== undefined) meta.fingerprint = fingerprint;
  return new Schema(fields, new Map([['huggingface', JSON.stringify(meta)]]));
}

/** One record batch holding `rows` under `schema` (see `inferRowsSchema`). */
export function rowsToRecordBatch(rows: readonly PlainRow[], schema: Schema): RecordBatch {
  const children = schema.fields.map((f) => vectorFromArray(rows.map((r) => prepare(r[f.name], f.type as DataType)) as never[], f.type as DataType).data[0]);
  const data = makeData({ type: new Struct(schema.fields), length: rows.length, nullCount: 0, children });
  return new RecordBatch(schema as Schema<TypeMap>, data);
}

/** A table of `rows` in batches of `batchSize` rows (HF writes 1000-row batches by default). */
export function rowsToTable(rows: readonly PlainRow[], schema: Schema, batchSize = 1000): Table {
  const batches: RecordBatch[] = [];
  for (let i = 0; i < rows.length; i += batchSize) batches.push(rowsToRecordBatch(rows.slice(i, i + batchSize), schema));
  return batches.length ? new Table(batches) : new Table(schema);
}
