import { createHash } from "node:crypto";
import type { Chunking } from "../format/manifest.js";
import { Limiter } from "../lib/limiter.js";
import { sha256HexNative } from "../lib/sha256-native.js";
import { type ChunkStreamOptions, chunkStream } from "./chunker.js";
import { type CompressOptions, createCompressor } from "./compressor.js";
import type { PublishTarget } from "./target.js";

/**
 * Chunks asked about in one existence query while publishing, at most. A stream's first queries
 * ask about 1, 2, 4, ... chunks, so that the first compression starts as soon as the first chunk
 * is hashed rather than after 64.
 */
const QUERY_BATCH = 64;

/** Compressed chunks being uploaded at once (besides those being compressed). */
const UPLOADS_IN_FLIGHT = 16;

/** What the chunks cut so far came to; a publish's progress shows these. */
export interface UploadCounts {
  chunks: number;
  newChunks: number;
  reusedChunks: number;
  bytesUploaded: number;
}

/** One stream cut into chunks: their ids and uncompressed lengths, in order. */
export interface ChunkList {
  chunks: string[];
  lengths: number[];
}

/** A stream uploaded: its chunks, and the SHA-256 of all its bytes (lowercase hex). */
export interface UploadedStream extends ChunkList {
  sha256: string;
}

/** How {@link ChunkUploader.upload} may treat the source's pieces. */
export interface UploadOptions extends ChunkStreamOptions {
  /**
   * Given each chunk once the uploader no longer reads it (hashed, and compressed if it was new),
   * e.g. a PiecePool's `give`, so its memory can take the next piece.
   */
  done?: (chunk: Buffer) => void;
}

export interface ChunkUploaderOptions extends CompressOptions {
  target: PublishTarget;
  chunking: Chunking;
  /** Chunks compressed at once, on libuv's thread pool. */
  jobs: number;
  /** Counted into as chunks are cut and uploaded. */
  counts: UploadCounts;
  /** Told whenever `counts` changed. */
  onChange?: () => void;
}

interface HashedChunk {
  id: string;
  bytes: Buffer;
}

/**
 * The one path every published byte takes: a stream (an image, a kernel, an initramfs) is cut into
 * chunks, each chunk hashed, the target asked which it lacks (in batches, as the
 * stream is read), and only those compressed (on every core) and uploaded. Chunks seen before in
 * any stream of this uploader are neither asked about nor uploaded again. Uploads run on after
 * {@link upload} returns; {@link finish} waits for them and throws the first failure.
 */
export class ChunkUploader {
  private readonly seen = new Set<string>();
  private readonly compressing: Limiter;
  private readonly uploading = new Limiter(UPLOADS_IN_FLIGHT);
  private readonly compress: (chunk: Buffer) => Promise<Buffer>;
  /** Bytes of the distinct chunks cut. */
  distinctBytes = 0;
  /** Uncompressed and compressed bytes of the chunks uploaded. */
  uploadedRaw = 0;
  uploadedFrames = 0;

  constructor(private readonly options: ChunkUploaderOptions) {
    this.compressing = new Limiter(options.jobs);
    this.compress = createCompressor(options);
  }

  /** Distinct chunks cut so far. */
  get distinctChunks(): number {
    return this.seen.size;
  }

  /**
   * Cuts `source` into chunks (with the uploader's chunking unless another is given) and uploads
   * those the target lacks; returns the chunk list and the SHA-256 of the whole stream (hashed
   * chunk by chunk, as they come). `options` say whether the source hands over its pieces (see
   * chunkStream) and whom to give each chunk when done with it.
   */
  async upload(
    source: AsyncIterable<Uint8Array>,
    chunking: Chunking = this.options.chunking,
    options: UploadOptions = {},
  ): Promise<UploadedStream> {
    const list: ChunkList = { chunks: [], lengths: [] };
    const whole = createHash("sha256");
    const done = options.done ?? (() => {});
    const handOver = new BatchQueue((batch: HashedChunk[]) => this.flush(batch, done));
    let batch: HashedChunk[] = [];
    let batchSize = 1;
    try {
      for await (const bytes of chunkStream(source, chunking, options)) {
        whole.update(bytes);
        const id = sha256HexNative(bytes);
        list.chunks.push(id);
        list.lengths.push(bytes.byteLength);
        this.options.counts.chunks++;
        batch.push({ id, bytes });
        if (batch.length >= batchSize) {
          await handOver.add(batch);
          batch = [];
          batchSize = Math.min(batchSize * 2, QUERY_BATCH);
        }
      }
      await handOver.add(batch);
      await handOver.drain();
    } finally {
      handOver.abandon();
    }
    return { ...list, sha256: whole.digest("hex") };
  }

  /** Waits for every upload; throws the first that failed. */
  async finish(): Promise<void> {
    await this.compressing.drain();
    await this.uploading.drain();
  }

  /** Asks the target about a batch's chunks, and starts compressing and uploading those it lacks. */
  private async flush(batch: readonly HashedChunk[], done: (chunk: Buffer) => void): Promise<void> {
    if (batch.length === 0) return;
    const { target, counts } = this.options;
    const fresh = [...new Set(batch.map((c) => c.id))].filter((id) => !this.seen.has(id));
    const missing = new Set(fresh.length > 0 ? await target.missing(fresh) : []);
    for (const { id, bytes } of batch) {
      const first = !this.seen.has(id);
      if (first) {
        this.seen.add(id);
        this.distinctBytes += bytes.byteLength;
      }
      if (!first || !missing.has(id)) {
        counts.reusedChunks++;
        done(bytes);
        continue;
      }
      counts.newChunks++;
      await this.compressing.start(async () => {
        const frame = await this.compress(bytes);
        const raw = bytes.byteLength;
        done(bytes);
        await this.uploading.start(async () => {
          await target.putChunk(id, frame);
          this.uploadedRaw += raw;
          this.uploadedFrames += frame.byteLength;
          counts.bytesUploaded += frame.byteLength;
          this.options.onChange?.();
        });
      });
    }
    this.options.onChange?.();
  }
}

/**
 * Batches of chunks handed over one at a time, in order, while the producer goes on: {@link add}
 * returns once the batch before this one has been handed over (asked about and given to the
 * compressors), so the main thread reads and hashes the next batch while the compressors work
 * through this one, and at most two batches wait besides those being compressed.
 */
class BatchQueue<T> {
  private last: Promise<void> = Promise.resolve();

  constructor(private readonly handOver: (batch: T) => Promise<void>) {}

  /** Queues `batch`; resolves once the batch queued before it is handed over, throws if it failed. */
  async add(batch: T): Promise<void> {
    const previous = this.last;
    this.last = previous.then(() => this.handOver(batch));
    await previous;
  }

  /** Waits until every batch is handed over; throws the first failure. */
  async drain(): Promise<void> {
    await this.last;
  }

  /** Keeps a failure of a batch nobody waits for any more from becoming an unhandled rejection. */
  abandon(): void {
    this.last.catch(() => {});
  }
}
