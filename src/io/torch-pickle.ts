/**
 * PyTorch `.bin` state dicts (the `torch.save` zip format, torch ≥ 1.6): `<archive>/data.pkl` is a pickle of an
 * `OrderedDict[str, Tensor]` whose tensors point (via pickle persistent ids) at raw storages `<archive>/data/<key>`.
 *
 * The pickle is run by `pickleparser` with an allow-list of exactly the globals `torch.save` emits for a state
 * dict (`collections.OrderedDict`, `torch._utils._rebuild_tensor_v2`, `_rebuild_parameter`, `torch.*Storage`),
 * each mapped to a small TypeScript function that builds a description of the tensor. Any other global is
 * refused before anything runs, so a hostile pickle can only build plain data. Storages are read zero-copy
 * (tensors are views of the unzipped records); views must be contiguous.
 */
import { unzipSync } from 'fflate';
import { Parser } from 'pickleparser';
import { bytesPerElement, shapeSize, type DType, type RawTensor } from './safetensors.js';

export { serializeTorchStateDict } from './torch-pickle-write.js';

/** A malformed or unsupported torch checkpoint; the message names the file and, where known, the tensor. */
export class TorchPickleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TorchPickleError';
  }
}

/** `torch.<Name>Storage` → element dtype (legacy typed storages, which is what torch.save pickles). */
export const STORAGE_DTYPES: Record<string, DType> = {
  FloatStorage: 'F32',
  HalfStorage: 'F16',
  BFloat16Storage: 'BF16',
  DoubleStorage: 'F64',
  LongStorage: 'I64',
  IntStorage: 'I32',
  ShortStorage: 'I16',
  CharStorage: 'I8',
  ByteStorage: 'U8',
  BoolStorage: 'BOOL',
};

class StorageRef {
  constructor(
    readonly dtype: DType,
    readonly key: string,
    readonly numel: number,
  ) {}
}

class TensorRef {
  constructor(
    readonly storage: StorageRef,
    readonly offset: number,
    readonly shape: number[],
    readonly stride: number[],
  ) {}
}

/** What `collections.OrderedDict` builds. BUILD state (the state dict's `_metadata` versions) is ignored. */
class PickledDict extends Map<unknown, unknown> {
  __setstate__(): void {}
}

function toCount(v: unknown, what: string): number {
  const n = typeof v === 'bigint' && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) {
    throw new TorchPickleError(`${what} is ${String(v)}, not a non-negative integer`);
  }
  return n;
}

function toCounts(v: unknown, what: string): number[] {
  if (!Array.isArray(v)) throw new TorchPickleError(`${what} is not a tuple`);
  return v.map((x, i) => toCount(x, `${what}[${i}]`));
}

/** Run the pickle with only the allowed globals; returns the unpickled top-level object. */
function unpickle(pkl: Uint8Array): unknown {
  const storageTypes = new Map<unknown, DType>();
  const storages = new Map<string, StorageRef>();
  const globals = new Map<string, (...args: unknown[]) => unknown>();
  globals.set('collections.OrderedDict', (items?: unknown) => {
    const d = new PickledDict();
    if (Array.isArray(items)) for (const pair of items) if (Array.isArray(pair)) d.set(pair[0], pair[1]);
    return d;
  });
  globals.set('torch._utils._rebuild_tensor_v2', (storage, offset, size, stride) => {
    if (!(storage instanceof StorageRef)) throw new TorchPickleError('_rebuild_tensor_v2 got no storage');
    const start = toCount(offset, 'storage offset');
    return new TensorRef(storage, start, toCounts(size, 'size'), toCounts(stride, 'stride'));
  });
  // nn.Parameter in a saved dict: keep the tensor, drop requires_grad and hooks.
  globals.set('torch._utils._rebuild_parameter', (data) => data);
  for (const [name, dtype] of Object.entries(STORAGE_DTYPES)) {
    const marker = (): never => {
      throw new TorchPickleError(`torch.${name} cannot be called`);
    };
    storageTypes.set(marker, dtype);
    globals.set(`torch.${name}`, marker);
  }
  const parser = new Parser({
    unpicklingTypeOfDictionary: 'Map',
    unpicklingTypeOfSet: 'array',
    nameResolver: {
      resolve(module: string, name: string) {
        const g = globals.get(`${module}.${name}`);
        if (!g) {
          throw new TorchPickleError(
            `refusing pickle global ${module}.${name}: only plain state dicts of tensors are loaded (never code)`,
          );
        }
        return g;
      },
    },
    persistentResolver: {
      // Typed `string` by pickleparser; torch's persistent ids are tuples ('storage', type, key, location, numel).
      resolve(pid: unknown) {
        if (!Array.isArray(pid) || pid[0] !== 'storage' || pid.length < 5) {
          const part = (x: unknown) => (typeof x === 'string' ? x : typeof x);
          const shown = Array.isArray(pid) ? `(${pid.map(part).join(', ')})` : typeof pid;
          throw new TorchPickleError(`unsupported persistent id ${shown}`);
        }
        const dtype = storageTypes.get(pid[1]);
        const key = pid[2];
        if (!dtype || typeof key !== 'string') throw new TorchPickleError(`unsupported storage in persistent id`);
        const numel = toCount(pid[4], `storage ${key} size`);
        const seen = storages.get(key);
        if (seen && seen.dtype !== dtype) {
          throw new TorchPickleError(`storage ${key} is used as ${seen.dtype} and ${dtype}`);
        }
        const ref = seen ?? new StorageRef(dtype, key, numel);
        storages.set(key, ref);
        return ref;
      },
    },
  });
  return parser.parse(pkl);
}

function checkContiguous(t: TensorRef): boolean {
  if (t.stride.length !== t.shape.length) return false;
  if (shapeSize(t.shape) === 0) return true;
  let expected = 1;
  for (let i = t.shape.length - 1; i >= 0; i--) {
    // A dimension of size 1 can carry any stride (torch itself treats such tensors as contiguous).
    if (t.shape[i] !== 1 && t.stride[i] !== expected) return false;
    expected *= t.shape[i]!;
  }
  return true;
}

/**
 * Read a `torch.save`d state dict (`pytorch_model.bin`, `adapter_model.bin`, …) into raw tensors, zero-copy
 * views of the unzipped storages. Supports float32/float16/bfloat16/float64/int64/int32/int16/int8/uint8/bool
 * storages, storage offsets and contiguous views (shared storages included); throws `TorchPickleError` naming
 * the file and tensor for non-contiguous views, missing storages, foreign globals or a non-dict top level.
 */
export function parseTorchStateDict(bytes: Uint8Array, fileName = 'pytorch_model.bin'): Map<string, RawTensor> {
  const fail = (msg: string) => new TorchPickleError(`${fileName}: ${msg}`);
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(bytes);
  } catch (e) {
    throw fail(`not a torch.save zip archive (${(e as Error).message}); pre-1.6 legacy .bin files are not supported`);
  }
  const pklName = Object.keys(files).find((n) => /^[^/]+\/data\.pkl$/.test(n));
  if (!pklName) throw fail('no <archive>/data.pkl in the zip: not a torch.save file');
  const root = pklName.slice(0, -'data.pkl'.length);
  const byteorder = files[`${root}byteorder`];
  if (byteorder && new TextDecoder().decode(byteorder).trim() !== 'little') {
    throw fail('saved on a big-endian machine (byteorder is not "little"): not supported');
  }
  let top: unknown;
  try {
    top = unpickle(files[pklName]!);
  } catch (e) {
    throw fail(`${pklName}: ${(e as Error).message}`);
  }
  if (!(top instanceof Map)) {
    const what = Array.isArray(top) ? 'a list or tuple' : top === null ? 'None' : typeof top;
    throw fail(`${pklName} holds ${what}, not a state dict (a dict of tensors)`);
  }

  const out = new Map<string, RawTensor>();
  for (const [name, value] of top) {
    if (typeof name !== 'string') throw fail(`state dict key ${String(name)} is not a string`);
    const where = `tensor "${name}"`;
    if (!(value instanceof TensorRef)) throw fail(`${where}: value is not a tensor`);
    const { dtype, key } = value.storage;
    const record = files[`${root}data/${key}`];
    if (!record) throw fail(`${where}: storage record ${root}data/${key} is missing`);
    if (!checkContiguous(value)) {
      throw fail(
        `${where} is a non-contiguous view (shape [${value.shape.join(', ')}], stride [${value.stride.join(', ')}]); ` +
          'save it with .contiguous()',
      );
    }
    const size = bytesPerElement(dtype);
    const begin = value.offset * size;
    const end = begin + shapeSize(value.shape) * size;
    if (end > record.byteLength) {
      throw fail(`${where}: needs bytes [${begin}, ${end}) of storage ${key}, which has ${record.byteLength}`);
    }
    out.set(name, { dtype, shape: value.shape, data: record.subarray(begin, end) });
  }
  return out;
}
