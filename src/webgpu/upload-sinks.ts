/**
 * Where streamed weight bytes go (weight-upload.ts): each tensor's bytes arrive in order, in pieces cut anywhere,
 * and a sink writes them to their place — as they are (4-byte aligned, with a carry), row by row with padding or
 * narrowing to 16 bits, or kept on the CPU for small tensors that are assembled afterwards.
 */
import { float32ToHalfBytes } from '../io/half-float.js';

/** Receives a tensor's bytes in order: `(bytes, offset in the tensor)`, then `end()`. */
export interface Sink {
  write(bytes: Uint8Array, offset: number): void;
  end(): void;
}

/** Writes bytes at `base` in `buffer`, keeping 4-byte alignment (writeBuffer requires it) with a small carry. */
export class DirectSink implements Sink {
  private carry = new Uint8Array(4);
  private carried = 0;
  private at = 0;
  constructor(private readonly queue: GPUQueue, private readonly buffer: GPUBuffer, private readonly base: number) {}
  write(bytes: Uint8Array, offset: number): void {
    if (offset !== this.at + this.carried) throw new Error('DirectSink: bytes out of order');
    let b = bytes;
    if (this.carried > 0) {
      const take = Math.min(4 - this.carried, b.length);
      this.carry.set(b.subarray(0, take), this.carried);
      this.carried += take;
      b = b.subarray(take);
      if (this.carried < 4) return;
      this.queue.writeBuffer(this.buffer, this.base + this.at, this.carry.slice());
      this.at += 4;
      this.carried = 0;
    }
    const whole = b.length & ~3;
    if (whole > 0) {
      // writeBuffer copies from an ArrayBuffer range; the chunk may sit at any offset of its buffer.
      const data = b.byteOffset % 4 === 0 ? b.subarray(0, whole) : b.slice(0, whole);
      this.queue.writeBuffer(this.buffer, this.base + this.at, data.buffer as ArrayBuffer, data.byteOffset, whole);
      this.at += whole;
    }
    this.carry.set(b.subarray(whole));
    this.carried = b.length - whole;
  }
  end(): void {
    if (this.carried > 0) {
      this.carry.fill(0, this.carried);
      this.queue.writeBuffer(this.buffer, this.base + this.at, this.carry.slice());
    }
  }
}

/**
 * A float weight `[rows, K]` whose rows change on the way: padded to `Kp` elements, and/or F32 narrowed to
 * f16/bf16. Collects whole rows, converts them, writes them.
 */
export class RowSink implements Sink {
  private readonly inRow: number;
  private pending: Uint8Array;
  private filled = 0;
  private row = 0;
  constructor(
    private readonly queue: GPUQueue,
    private readonly buffer: GPUBuffer,
    private readonly base: number,
    private readonly K: number,
    private readonly Kp: number,
    private readonly inBytes: number,
    private readonly convert: 'none' | 'F16' | 'BF16',
  ) {
    this.inRow = K * inBytes;
    // Enough rows per batch for ~1 MB of input.
    const rowsPerBatch = Math.max(1, Math.floor((1 << 20) / this.inRow));
    this.pending = new Uint8Array(rowsPerBatch * this.inRow);
  }
  write(bytes: Uint8Array, _offset: number): void {
    let b = bytes;
    while (b.length > 0) {
      const take = Math.min(b.length, this.pending.length - this.filled);
      this.pending.set(b.subarray(0, take), this.filled);
      this.filled += take;
      b = b.subarray(take);
      if (this.filled === this.pending.length) this.flush();
    }
  }
  private flush(): void {
    const rows = Math.floor(this.filled / this.inRow);
    if (rows === 0) return;
    const outElem = this.convert === 'none' ? this.inBytes : 2;
    const out = new Uint8Array(rows * this.Kp * outElem);
    for (let r = 0; r < rows; r++) {
      const src = this.pending.subarray(r * this.inRow, (r + 1) * this.inRow);
      const conv = this.convert === 'none' ? src : float32ToHalfBytes(new Float32Array(src.slice().buffer), this.convert);
      out.set(conv, r * this.Kp * outElem);
    }
    this.queue.writeBuffer(this.buffer, this.base + this.row * this.Kp * outElem, out);
    this.row += rows;
    const rest = this.filled - rows * this.inRow;
    this.pending.copyWithin(0, rows * this.inRow, this.filled);
    this.filled = rest;
  }
  end(): void {
    this.flush();
    if (this.filled !== 0) throw new Error('RowSink: the tensor ended inside a row');
  }
}

/** Keeps a small tensor's bytes on the CPU for assembly. */
export class CpuSink implements Sink {
  readonly bytes: Uint8Array;
  constructor(size: number) {
    this.bytes = new Uint8Array(size);
  }
  write(bytes: Uint8Array, offset: number): void {
    this.bytes.set(bytes, offset);
  }
  end(): void {}
}
