/** Buffers kept for reuse at most; past it, a returned buffer is left to the garbage collector. */
const KEPT = 256;

/**
 * Buffers of one size, handed out and taken back for reuse: reading an image into the same few
 * buffers again, instead of a new one per piece, spares V8 the full collections that hundreds of
 * megabytes of fresh external memory set off. Each buffer is the only view of its own memory.
 */
export class PiecePool {
  private readonly free: Buffer[] = [];

  constructor(readonly size: number) {}

  /** A buffer of `size` bytes, reused or new; its contents are whatever it last held. */
  take(): Buffer {
    return this.free.pop() ?? Buffer.allocUnsafeSlow(this.size);
  }

  /**
   * Takes `buffer` back once nothing reads it any more; buffers of another size, or views of
   * part of their memory, are not kept.
   */
  give(buffer: Buffer): void {
    const whole = buffer.byteOffset === 0 && buffer.byteLength === buffer.buffer.byteLength;
    if (whole && buffer.length === this.size && this.free.length < KEPT) this.free.push(buffer);
  }
}
