import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import type { Codec } from "../format/codec.js";
import { sha256Hex } from "../format/hex.js";
import { rootfsNameProblem } from "../format/ids.js";
import {
  type Chunking,
  chunkOffsets,
  encodeManifest,
  MANIFEST_VERSION,
  type Manifest,
} from "../format/manifest.js";
import { prefetchFromReads } from "../format/profile.js";
import { type RefUpdate, signRefUpdate } from "../format/ref.js";
import { chunkStream } from "./chunker.js";
import { createCompressor } from "./compressor.js";
import { ImageHasher } from "./image-hasher.js";
import { PublishError, type PublishTarget } from "./target.js";

interface HashedChunk {
  id: string;
  bytes: Buffer;
}

/** Chunks asked about in one existence query while publishing. */
const QUERY_BATCH = 64;

/** Compressed chunks being uploaded at once (besides those being compressed). */
const UPLOADS_IN_FLIGHT = 16;

export interface PublishOptions {
  image: string;
  name: string;
  target: PublishTarget;
  chunking: Chunking;
  codec: Codec;
  level: number;
  /** Chunks compressed at once, on libuv's thread pool: the number of cores is a good choice. */
  jobs: number;
  /** A recorded boot's reads (`edgeboot nbd --record`): the chunks covering them become the prefetch list. */
  prefetchReads?: readonly [number, number][];
  /** Ed25519 keys to sign the ref with. */
  keys?: { privateKey: CryptoKey; publicKey: CryptoKey };
  onProgress?: (progress: PublishProgress) => void;
}

/** Where a running publish is. */
export interface PublishProgress {
  imageSize: number;
  bytesRead: number;
  chunks: number;
  newChunks: number;
  reusedChunks: number;
  bytesUploaded: number;
}

/** What a finished publish did. */
export interface PublishSummary extends PublishProgress {
  name: string;
  manifestId: string;
  uniqueChunks: number;
  /** Image size over the bytes of its distinct chunks. */
  dedupRatio: number;
  /** Bytes of the chunks uploaded over their compressed frames (1 when none was new). */
  compressionRatio: number;
  seconds: number;
  signed: boolean;
  /** Chunks in the manifest's prefetch list. */
  prefetchChunks: number;
}

/**
 * Publishes an image as rootfs `name`: reads it as a stream (memory stays bounded whatever its
 * size), cuts it into chunks, hashes them and compresses only those the target lacks, on every
 * core, and uploads them, then the manifest, then moves the ref with a compare-and-swap against the
 * ref read at the start. Interrupted anywhere, a rerun finishes the job; no ref ever points at
 * missing data.
 */
export async function publish(options: PublishOptions): Promise<PublishSummary> {
  const started = performance.now();
  const problem = rootfsNameProblem(options.name);
  if (problem) throw new PublishError(`bad rootfs name "${options.name}": ${problem}`);
  const imageSize = await imageSizeOf(options.image);
  const { target } = options;
  const current = await target.getRef(options.name);
  const progress: PublishProgress = {
    imageSize,
    bytesRead: 0,
    chunks: 0,
    newChunks: 0,
    reusedChunks: 0,
    bytesUploaded: 0,
  };
  const report = () => options.onProgress?.({ ...progress });
  const imageHash = new ImageHasher();
  const ids: string[] = [];
  const lengths: number[] = [];
  const seen = new Set<string>();
  let uploadedRaw = 0;
  let uploadedFrames = 0;
  const compressing = new Limiter(options.jobs);
  const uploading = new Limiter(UPLOADS_IN_FLIGHT);
  const compress = createCompressor({ codec: options.codec, level: options.level });
  try {
    let batch: HashedChunk[] = [];
    const flush = async () => {
      const fresh = [...new Set(batch.map((c) => c.id))].filter((id) => !seen.has(id));
      const missing = new Set(fresh.length > 0 ? await target.missing(fresh) : []);
      for (const { id, bytes } of batch) {
        if (seen.has(id) || !missing.has(id)) {
          seen.add(id);
          progress.reusedChunks++;
          continue;
        }
        seen.add(id);
        progress.newChunks++;
        await compressing.run(async () => {
          const length = bytes.byteLength;
          const frame = await compress(bytes);
          await uploading.run(async () => {
            await target.putChunk(id, frame);
            uploadedRaw += length;
            uploadedFrames += frame.byteLength;
            progress.bytesUploaded += frame.byteLength;
            report();
          });
        });
      }
      batch = [];
      report();
    };
    const source = readImage(options.image, imageHash, (n) => {
      progress.bytesRead += n;
    });
    const chunks = chunkStream(source, options.chunking);
    for await (const bytes of chunks) {
      const id = createHash("sha256").update(bytes).digest("hex");
      ids.push(id);
      lengths.push(bytes.byteLength);
      progress.chunks++;
      batch.push({ id, bytes });
      if (batch.length >= QUERY_BATCH) await flush();
    }
    await flush();
    await compressing.drain();
    await uploading.drain();
  } catch (error) {
    await imageHash.close();
    throw error;
  }
  const manifest: Manifest = {
    version: MANIFEST_VERSION,
    size: progress.bytesRead,
    sha256: await imageHash.digest(),
    chunking: options.chunking,
    codec: options.codec,
    created: new Date().toISOString(),
    chunks: ids,
    lengths,
  };
  if (options.prefetchReads) {
    manifest.prefetch = prefetchFromReads(options.prefetchReads, chunkOffsets(manifest));
  }
  const manifestBytes = encodeManifest(manifest);
  const manifestId = await sha256Hex(manifestBytes);
  await target.putManifest(manifestId, manifestBytes);
  const published = publishTime(current?.ref.published);
  const unsigned = { manifest: manifestId, published };
  const update: RefUpdate = options.keys
    ? await signRefUpdate(options.name, unsigned, options.keys)
    : unsigned;
  await target.putRef(options.name, update, current);
  const distinctBytes = distinctLength(ids, lengths);
  return {
    ...progress,
    name: options.name,
    manifestId,
    uniqueChunks: seen.size,
    dedupRatio: distinctBytes === 0 ? 1 : manifest.size / distinctBytes,
    compressionRatio: uploadedFrames === 0 ? 1 : uploadedRaw / uploadedFrames,
    seconds: (performance.now() - started) / 1000,
    signed: options.keys !== undefined,
    prefetchChunks: manifest.prefetch?.length ?? 0,
  };
}

async function imageSizeOf(image: string): Promise<number> {
  try {
    const info = await stat(image);
    if (!info.isFile() && !info.isBlockDevice()) {
      throw new PublishError(`${image} is not a file or block device: give a disk image`);
    }
    return info.size;
  } catch (error) {
    if (error instanceof PublishError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new PublishError(`no image at ${image}: check the path`);
    throw new PublishError(`cannot read ${image} (${code ?? String(error)})`);
  }
}

async function* readImage(
  image: string,
  hash: ImageHasher,
  onRead: (bytes: number) => void,
): AsyncGenerator<Buffer> {
  const stream = createReadStream(image, { highWaterMark: 1024 * 1024 });
  try {
    for await (const piece of stream as AsyncIterable<Buffer>) {
      onRead(piece.byteLength);
      yield piece;
      hash.update(piece);
    }
  } catch (error) {
    throw new PublishError(`reading ${image} failed: ${(error as Error).message}`);
  }
}

function publishTime(previous: string | undefined): string {
  const now = Date.now();
  const after = previous ? Date.parse(previous) + 1 : 0;
  return new Date(Math.max(now, after)).toISOString();
}

function distinctLength(ids: readonly string[], lengths: readonly number[]): number {
  const seen = new Set<string>();
  let total = 0;
  for (const [index, id] of ids.entries()) {
    if (seen.has(id)) continue;
    seen.add(id);
    total += lengths[index] as number;
  }
  return total;
}

/** Runs at most `limit` tasks at once; the first failure is thrown by the next run or drain. */
class Limiter {
  private readonly running = new Set<Promise<void>>();
  private failure?: unknown;

  constructor(private readonly limit: number) {}

  async run(task: () => Promise<void>): Promise<void> {
    while (this.running.size >= this.limit) await Promise.race(this.running);
    this.check();
    const promise: Promise<void> = task()
      .catch((error) => {
        this.failure ??= error;
      })
      .finally(() => this.running.delete(promise));
    this.running.add(promise);
  }

  async drain(): Promise<void> {
    await Promise.all(this.running);
    this.check();
  }

  private check(): void {
    if (this.failure !== undefined) throw this.failure;
  }
}
