import { createRequire } from "node:module";
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import type { Codec } from "../format/codec.js";
import { transferableBuffer } from "./transfer.js";

/** How chunks are compressed. */
export interface CompressOptions {
  codec: Codec;
  level: number;
}

const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const { createHash } = require("node:crypto");
const zlib = require("node:zlib");
const zstdLevel = { params: { [zlib.constants.ZSTD_c_compressionLevel]: workerData.level } };
const zstd =
  workerData.codec !== "zstd" ? undefined
  : zlib.zstdCompressSync ? { encodeSync: (bytes) => zlib.zstdCompressSync(bytes, zstdLevel) }
  : new (require(workerData.zstdPath).Encoder)(workerData.level);
parentPort.on("message", ({ seq, op, data }) => {
  const bytes = Buffer.from(data);
  if (op === "hash") {
    parentPort.postMessage({ seq, result: createHash("sha256").update(bytes).digest("hex") });
    return;
  }
  const frame = zstd ? zstd.encodeSync(bytes) : zlib.gzipSync(bytes, { level: workerData.level });
  const out = frame.buffer.byteLength === frame.byteLength ? frame : Buffer.from(frame);
  parentPort.postMessage({ seq, result: out.buffer }, [out.buffer]);
});
`;

interface Pending {
  resolve: (result: string | ArrayBuffer) => void;
  reject: (error: Error) => void;
}

/**
 * Hashes and compresses chunks on worker threads, one per core by default, so that the costly
 * work of publishing runs on every core while the main thread reads and cuts the image. zstd
 * frames come from node:zlib where it has zstd (Node 22.15+) and from the native libzstd binding
 * otherwise; gzip frames from node:zlib (mtime 0, so the same bytes always give the same frame).
 */
export class ChunkPool {
  private readonly workers: Worker[];
  private readonly pending = new Map<number, Pending>();
  private next = 0;
  private seq = 0;
  private failure?: Error;

  constructor(options: CompressOptions, threads = availableParallelism()) {
    const zstdPath = createRequire(import.meta.url).resolve("@toondepauw/node-zstd");
    this.workers = Array.from({ length: Math.max(1, threads) }, () => {
      const worker = new Worker(WORKER_SOURCE, {
        eval: true,
        workerData: { zstdPath, codec: options.codec, level: options.level },
      });
      worker.on("message", (message: { seq: number; result: string | ArrayBuffer }) => {
        const pending = this.pending.get(message.seq);
        this.pending.delete(message.seq);
        pending?.resolve(message.result);
      });
      worker.on("error", (error) => this.fail(error));
      return worker;
    });
  }

  /** The lowercase hex SHA-256 of `chunk`, computed on a copy: the chunk stays usable here. */
  async hash(chunk: Buffer): Promise<string> {
    return (await this.post("hash", chunk, false)) as string;
  }

  /** The compressed frame of `chunk`. Its memory is transferred to a worker: do not reuse it. */
  async compress(chunk: Buffer): Promise<Buffer> {
    return Buffer.from((await this.post("compress", chunk, true)) as ArrayBuffer);
  }

  /** Stops every worker. */
  async close(): Promise<void> {
    await Promise.all(this.workers.map((worker) => worker.terminate()));
  }

  private post(op: "hash" | "compress", chunk: Buffer, transfer: boolean) {
    if (this.failure) return Promise.reject(this.failure);
    const seq = this.seq++;
    const worker = this.workers[this.next++ % this.workers.length] as Worker;
    const data = transfer ? transferableBuffer(chunk) : chunk;
    return new Promise<string | ArrayBuffer>((resolve, reject) => {
      this.pending.set(seq, { resolve, reject });
      worker.postMessage({ seq, op, data }, transfer ? [data as ArrayBuffer] : []);
    });
  }

  private fail(error: Error): void {
    this.failure = error;
    for (const pending of this.pending.values()) pending.reject(error);
    this.pending.clear();
  }
}
