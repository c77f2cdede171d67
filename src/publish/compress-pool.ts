import { createRequire } from "node:module";
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import type { Codec } from "../format/codec.js";

/** How chunks are compressed. */
export interface EncodeOptions {
  codec: Codec;
  level: number;
}

const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const zlib = require("node:zlib");
const zstdLevel = { params: { [zlib.constants.ZSTD_c_compressionLevel]: workerData.level } };
const zstd =
  workerData.codec !== "zstd" ? undefined
  : zlib.zstdCompressSync ? { encodeSync: (bytes) => zlib.zstdCompressSync(bytes, zstdLevel) }
  : new (require(workerData.zstdPath).Encoder)(workerData.level);
parentPort.on("message", ({ seq, data }) => {
  const bytes = Buffer.from(data);
  const frame = zstd ? zstd.encodeSync(bytes) : zlib.gzipSync(bytes, { level: workerData.level });
  const out = frame.buffer.byteLength === frame.byteLength ? frame : Buffer.from(frame);
  parentPort.postMessage({ seq, frame: out.buffer }, [out.buffer]);
});
`;

interface Pending {
  resolve: (frame: Buffer) => void;
  reject: (error: Error) => void;
}

/**
 * Compresses chunks on worker threads, one per core by default, so that compression (the slow
 * part of publishing) runs on every core. zstd frames come from node:zlib where it has
 * zstd (Node 22.15+) and from the native libzstd binding otherwise; gzip frames from node:zlib
 * (mtime 0, so the same bytes always give the same frame).
 */
export class CompressPool {
  private readonly workers: Worker[];
  private readonly pending = new Map<number, Pending>();
  private next = 0;
  private seq = 0;
  private failure?: Error;

  constructor(options: EncodeOptions, threads = availableParallelism()) {
    const zstdPath = createRequire(import.meta.url).resolve("@toondepauw/node-zstd");
    this.workers = Array.from({ length: Math.max(1, threads) }, () => {
      const worker = new Worker(WORKER_SOURCE, {
        eval: true,
        workerData: { zstdPath, codec: options.codec, level: options.level },
      });
      worker.on("message", (message: { seq: number; frame: ArrayBuffer }) => {
        const pending = this.pending.get(message.seq);
        this.pending.delete(message.seq);
        pending?.resolve(Buffer.from(message.frame));
      });
      worker.on("error", (error) => this.fail(error));
      return worker;
    });
  }

  /** Number of worker threads. */
  get size(): number {
    return this.workers.length;
  }

  /** The compressed frame of `chunk`. Its memory is transferred to a worker: do not reuse it. */
  compress(chunk: Buffer): Promise<Buffer> {
    if (this.failure) return Promise.reject(this.failure);
    const seq = this.seq++;
    const worker = this.workers[this.next++ % this.workers.length] as Worker;
    const data = transferable(chunk);
    return new Promise((resolve, reject) => {
      this.pending.set(seq, { resolve, reject });
      worker.postMessage({ seq, data }, [data]);
    });
  }

  /** Stops every worker. */
  async close(): Promise<void> {
    await Promise.all(this.workers.map((worker) => worker.terminate()));
  }

  private fail(error: Error): void {
    this.failure = error;
    for (const pending of this.pending.values()) pending.reject(error);
    this.pending.clear();
  }
}

function transferable(chunk: Buffer): ArrayBuffer {
  const whole =
    chunk.byteOffset === 0 &&
    chunk.byteLength === chunk.buffer.byteLength &&
    chunk.buffer instanceof ArrayBuffer;
  if (whole) return chunk.buffer as ArrayBuffer;
  return chunk.buffer.slice(chunk.byteOffset, chunk.byteOffset + chunk.byteLength) as ArrayBuffer;
}
