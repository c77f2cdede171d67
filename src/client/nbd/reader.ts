import type { Socket } from "node:net";

/** The peer closed (or the socket failed) before the bytes asked for arrived. */
export class StreamEndedError extends Error {
  override name = "StreamEndedError";
  constructor(
    /** Bytes that had arrived towards the unfinished read (0: the stream ended between messages). */
    readonly partial: number,
    cause?: unknown,
  ) {
    super(
      partial === 0 ? "connection closed" : `connection closed ${partial} bytes into a message`,
      {
        cause,
      },
    );
  }
}

interface Waiter {
  readonly need: number;
  readonly wake: () => void;
}

const EMPTY = Buffer.alloc(0);

/**
 * Reads exact byte counts from a socket as they arrive. Keeps the received chunks in a queue (no
 * concatenation of the whole stream), pauses the socket once `highWaterMark` bytes wait unread and
 * resumes it as they are taken, so a client cannot make the server buffer without bound.
 */
export class SocketReader {
  readonly #socket: Socket;
  readonly #highWaterMark: number;
  readonly #chunks: Buffer[] = [];
  #head = 0;
  #buffered = 0;
  #paused = false;
  #ended: unknown = null;
  #done = false;
  #waiter: Waiter | undefined;

  constructor(socket: Socket, highWaterMark = 256 * 1024) {
    this.#socket = socket;
    this.#highWaterMark = highWaterMark;
    socket.on("data", (chunk: Buffer) => this.#onData(chunk));
    socket.on("end", () => this.#finish(null));
    socket.on("close", () => this.#finish(null));
    socket.on("error", (error: Error) => this.#finish(error));
  }

  /** Bytes received and not yet taken. */
  get buffered(): number {
    return this.#buffered;
  }

  /** Exactly `length` bytes, once they have arrived; rejects with StreamEndedError if they never do. */
  async read(length: number): Promise<Buffer> {
    if (length === 0) return EMPTY;
    while (this.#buffered < length) await this.#wait(length);
    return this.#take(length);
  }

  /** Discards the next `length` bytes as they arrive, without holding them. */
  async skip(length: number): Promise<void> {
    let left = length;
    while (left > 0) {
      if (this.#buffered === 0) await this.#wait(1);
      left -= this.#discard(Math.min(left, this.#buffered));
    }
  }

  /** Stops reading: pending and later reads reject, buffered bytes are dropped. */
  close(): void {
    this.#finish(null);
    this.#chunks.length = 0;
    this.#head = 0;
    this.#buffered = 0;
  }

  #onData(chunk: Buffer): void {
    if (this.#done || chunk.byteLength === 0) return;
    this.#chunks.push(chunk);
    this.#buffered += chunk.byteLength;
    if (this.#buffered >= this.#highWaterMark && !this.#paused) {
      this.#paused = true;
      this.#socket.pause();
    }
    const waiter = this.#waiter;
    if (waiter && this.#buffered >= waiter.need) {
      this.#waiter = undefined;
      waiter.wake();
    }
  }

  #finish(error: unknown): void {
    if (this.#done) return;
    this.#done = true;
    this.#ended = error;
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.wake();
  }

  #wait(need: number): Promise<void> {
    if (this.#done) return Promise.reject(new StreamEndedError(this.#buffered, this.#ended));
    if (this.#waiter) return Promise.reject(new Error("SocketReader: concurrent reads"));
    this.#resumeIfDrained();
    return new Promise<void>((resolve, reject) => {
      this.#waiter = {
        need,
        wake: () =>
          this.#buffered >= need
            ? resolve()
            : reject(new StreamEndedError(this.#buffered, this.#ended)),
      };
    });
  }

  #take(length: number): Buffer {
    const first = this.#chunks[0] as Buffer;
    if (first.byteLength - this.#head >= length) {
      const out = first.subarray(this.#head, this.#head + length);
      this.#discard(length);
      return out;
    }
    const out = Buffer.allocUnsafe(length);
    let filled = 0;
    while (filled < length) {
      const chunk = this.#chunks[0] as Buffer;
      const n = Math.min(length - filled, chunk.byteLength - this.#head);
      chunk.copy(out, filled, this.#head, this.#head + n);
      filled += this.#discard(n);
    }
    return out;
  }

  /** Drops `length` bytes (at most what is buffered) from the front; returns how many. */
  #discard(length: number): number {
    let left = length;
    while (left > 0) {
      const chunk = this.#chunks[0] as Buffer;
      const available = chunk.byteLength - this.#head;
      if (available > left) {
        this.#head += left;
        left = 0;
      } else {
        this.#chunks.shift();
        this.#head = 0;
        left -= available;
      }
    }
    this.#buffered -= length;
    this.#resumeIfDrained();
    return length;
  }

  #resumeIfDrained(): void {
    if (this.#paused && !this.#done && this.#buffered < this.#highWaterMark / 2) {
      this.#paused = false;
      this.#socket.resume();
    }
  }
}
