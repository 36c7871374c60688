/**
 * Writing PyTorch `.bin` state dicts that `torch.load` accepts: a zip of STORED (uncompressed) records —
 * `archive/data.pkl` (a protocol-2 pickle of an `OrderedDict` of `_rebuild_tensor_v2` calls),
 * `archive/data/<i>` (one storage per tensor), `archive/version` ("3\n") and `archive/byteorder` ("little") —
 * with each record's data aligned to 64 bytes like torch's own writer (needed for `torch.load(mmap=True)`).
 */
import { zipSync, type ZipAttributes } from 'fflate';
import { bytesPerElement, shapeSize, type DType, type RawTensor } from './safetensors.js';

const STORAGE_NAMES: Record<DType, string> = {
  F32: 'FloatStorage',
  F16: 'HalfStorage',
  BF16: 'BFloat16Storage',
  F64: 'DoubleStorage',
  I64: 'LongStorage',
  I32: 'IntStorage',
  I16: 'ShortStorage',
  I8: 'CharStorage',
  U8: 'ByteStorage',
  BOOL: 'BoolStorage',
};

/** Emits the few pickle opcodes a state dict needs (protocol 2, no memo: the unpickler does not require one). */
class PickleWriter {
  private chunks: number[] = [];
  private readonly enc = new TextEncoder();

  op(...bytes: number[]): this {
    for (const b of bytes) this.chunks.push(b);
    return this;
  }
  raw(bytes: Uint8Array): this {
    for (const b of bytes) this.chunks.push(b);
    return this;
  }
  u32(n: number): this {
    return this.op(n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff);
  }
  /** GLOBAL 'module\nname\n'. */
  global(module: string, name: string): this {
    return this.op(0x63).raw(this.enc.encode(`${module}\n${name}\n`));
  }
  /** BINUNICODE. */
  str(s: string): this {
    const b = this.enc.encode(s);
    return this.op(0x58).u32(b.length).raw(b);
  }
  /** BININT1 / BININT2 / BININT for small values, LONG1 (two's complement, little-endian) beyond int32. */
  int(n: number): this {
    if (!Number.isSafeInteger(n) || n < 0) throw new Error(`cannot pickle ${n} as a size`);
    if (n < 0x100) return this.op(0x4b, n);
    if (n < 0x10000) return this.op(0x4d, n & 0xff, n >>> 8);
    if (n < 0x80000000) return this.op(0x4a).u32(n);
    const bytes: number[] = [];
    let v = BigInt(n);
    while (v > 0n) {
      bytes.push(Number(v & 0xffn));
      v >>= 8n;
    }
    if (bytes[bytes.length - 1]! & 0x80) bytes.push(0); // keep it positive
    return this.op(0x8a, bytes.length, ...bytes);
  }
  /** A tuple of sizes: EMPTY_TUPLE, TUPLE1-3, or MARK … TUPLE. */
  tuple(items: number[]): this {
    if (items.length > 3) this.op(0x28);
    for (const x of items) this.int(x);
    return this.op([0x29, 0x85, 0x86, 0x87][items.length] ?? 0x74);
  }
  bytes(): Uint8Array {
    return Uint8Array.from(this.chunks);
  }
}

function contiguousStrides(shape: number[]): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i]!;
  }
  return strides;
}

function statePickle(tensors: Map<string, RawTensor>): Uint8Array {
  const w = new PickleWriter();
  w.op(0x80, 2); // PROTO 2
  w.global('collections', 'OrderedDict').op(0x29, 0x52); // OrderedDict() via EMPTY_TUPLE, REDUCE
  w.op(0x28); // MARK: the items
  let key = 0;
  for (const [name, t] of tensors) {
    w.str(name);
    w.global('torch._utils', '_rebuild_tensor_v2').op(0x28); // MARK: its arguments
    w.op(0x28).str('storage').global('torch', STORAGE_NAMES[t.dtype]).str(String(key++)).str('cpu');
    w.int(shapeSize(t.shape)).op(0x74, 0x51); // TUPLE, BINPERSID
    w.int(0).tuple(t.shape).tuple(contiguousStrides(t.shape));
    w.op(0x89); // requires_grad = False
    w.global('collections', 'OrderedDict').op(0x29, 0x52); // backward hooks: OrderedDict()
    w.op(0x74, 0x52); // TUPLE, REDUCE
  }
  w.op(0x75, 0x2e); // SETITEMS, STOP
  return w.bytes();
}

/**
 * Serialize raw tensors as a `torch.save` zip that `torch.load` reads back as an `OrderedDict` of CPU tensors
 * (one storage per tensor, contiguous, requires_grad False). Entries are STORED, not deflated, as torch requires.
 * Limited to archives under 4 GiB (no zip64).
 */
export function serializeTorchStateDict(tensors: Map<string, RawTensor>, archiveName = 'archive'): Uint8Array {
  const records: [string, Uint8Array][] = [[`${archiveName}/data.pkl`, statePickle(tensors)]];
  records.push([`${archiveName}/byteorder`, new TextEncoder().encode('little')]);
  let i = 0;
  for (const [name, t] of tensors) {
    const nbytes = shapeSize(t.shape) * bytesPerElement(t.dtype);
    if (t.data.byteLength !== nbytes) {
      const what = `${t.dtype} [${t.shape.join(', ')}]`;
      throw new Error(`cannot save tensor "${name}": ${t.data.byteLength} bytes, but ${what} needs ${nbytes}`);
    }
    records.push([`${archiveName}/data/${i++}`, t.data]);
  }
  records.push([`${archiveName}/version`, new TextEncoder().encode('3\n')]);

  // fflate lays entries out in order, each a 30-byte local header + name + extra fields + data, so we can pad the
  // extra field (id "FB", as torch does) to put every record's data on a 64-byte boundary.
  const entries: Record<string, [Uint8Array, ZipAttributes]> = {};
  let offset = 0;
  for (const [name, data] of records) {
    const before = offset + 30 + new TextEncoder().encode(name).length + 4;
    const pad = (64 - (before % 64)) % 64;
    entries[name] = [data, { extra: { 0x4246: new Uint8Array(pad).fill(0x5a) } }];
    offset = before + pad + data.byteLength;
  }
  if (offset > 0xffffffff) throw new Error('state dict too large for a zip without zip64 (4 GiB)');
  return zipSync(entries, { level: 0, mtime: new Date(1980, 0, 1) });
}
