import { createHash, randomBytes } from "node:crypto";
import { close, open, writev } from "node:fs";
import { rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { promisify } from "node:util";
import { OrderedReadAhead } from "../lib/ordered-read-ahead.js";
import { ClientError } from "./edge-client.js";
import type { BootClient } from "./index.js";

/** Where a running fetch is. */
export interface FetchProgress {
  imageSize: number;
  bytesDone: number;
  chunks: number;
  chunksDone: number;
}

/** What a finished fetch did. */
export interface FetchSummary extends FetchProgress {
  manifestId: string;
  sha256: string;
  /** Chunks downloaded in this run, and their compressed bytes. */
  downloaded: number;
  downloadedBytes: number;
  /** Chunks taken from the local cache. */
  cached: number;
  seconds: number;
}

/**
 * Writes the whole image of rootfs `name` to `path`: chunks in image order, several loading at
 * once (from the cache, else the edges, as many downloads in flight as the link's adaptive window
 * lets: lib/adaptive-window.ts), each verified, the whole checked against the manifest's
 * SHA-256 before the file is renamed into place. Only chunks missing from the cache are downloaded.
 */
export async function fetchImage(
  client: BootClient,
  name: string,
  path: string,
  options: { onProgress?: (progress: FetchProgress) => void } = {},
): Promise<FetchSummary> {
  const started = performance.now();
  // Every chunk comes next, the window's first batch at once: its connections open during the
  // manifest's GET.
  const { manifest, manifestId } = await client.resolve(name, { opensAhead: true });
  const before = { ...client.chunks.stats };
  const progress: FetchProgress = {
    imageSize: manifest.size,
    bytesDone: 0,
    chunks: manifest.chunks.length,
    chunksDone: 0,
  };
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(4).toString("hex")}.part`);
  const fd = await promisify(open)(temp, "w").catch((error: NodeJS.ErrnoException) => {
    throw new ClientError(`cannot write ${path} (${error.code ?? error.message})`);
  });
  const file = new ImageWriter(fd);
  const hash = createHash("sha256");
  try {
    // Twice the link's window loading ahead keeps it full (it is judged only when full); chunks
    // that came in behind a slow one wait, up to the memory budget of decoded chunks.
    const window = client.chunks.window;
    const largest = manifest.lengths.reduce((most, length) => Math.max(most, length), 1);
    const held = Math.max(1, Math.floor(client.chunks.memoryBudget / largest));
    const ahead = new OrderedReadAhead(
      (index) =>
        client.chunks.loadOnce(manifest.chunks[index] as string, manifest.lengths[index] as number),
      0,
      manifest.chunks.length,
      {
        loading: () => Math.min(2 * window.size, held),
        held,
      },
    );
    while (!ahead.done) {
      const bytes = await ahead.take();
      await file.append(bytes);
      hash.update(bytes);
      progress.bytesDone += bytes.byteLength;
      progress.chunksDone++;
      options.onProgress?.({ ...progress });
    }
    await file.close();
  } catch (error) {
    await file.abandon();
    await rm(temp, { force: true });
    throw error;
  }
  const sha256 = hash.digest("hex");
  if (sha256 !== manifest.sha256) {
    await rm(temp, { force: true });
    throw new ClientError(
      `the image of "${name}" hashes to ${sha256}, not the manifest's ${manifest.sha256}: nothing written`,
    );
  }
  await rename(temp, path);
  const after = client.chunks.stats;
  return {
    ...progress,
    manifestId,
    sha256,
    downloaded: after.fetched - before.fetched,
    downloadedBytes: after.fetchedBytes - before.fetchedBytes,
    cached: after.disk - before.disk,
    seconds: (performance.now() - started) / 1000,
  };
}

/** Appended bytes go out once this many have gathered, together in one `writev`. */
const WRITE_BATCH_BYTES = 4 * 1024 * 1024;

/** Batches of writes under way at once. */
const WRITES_IN_FLIGHT = 2;

/**
 * An output file written from its start, in order: appended bytes are gathered into batches, each
 * one positional `writev` on libuv's thread pool, a few under way while the next chunks come.
 * The bytes appended must not change until {@link close} (they are written later).
 */
class ImageWriter {
  private batch: Uint8Array[] = [];
  private batchBytes = 0;
  private position = 0;
  private readonly inFlight: Promise<void>[] = [];

  constructor(private readonly fd: number) {}

  /** Appends `bytes`; waits only when as many writes as allowed are under way. */
  async append(bytes: Uint8Array): Promise<void> {
    this.batch.push(bytes);
    this.batchBytes += bytes.byteLength;
    if (this.batchBytes >= WRITE_BATCH_BYTES) await this.flush();
  }

  /** Writes what is left, waits for every write, and closes the file. */
  async close(): Promise<void> {
    await this.flush();
    await Promise.all(this.inFlight.splice(0));
    await promisify(close)(this.fd);
  }

  /** Closes the file after a failure, whatever the writes under way do. */
  async abandon(): Promise<void> {
    await Promise.allSettled(this.inFlight.splice(0));
    await promisify(close)(this.fd).catch(() => undefined);
  }

  private async flush(): Promise<void> {
    if (this.batch.length === 0) return;
    const writing = writeAllAt(this.fd, this.batch, this.position);
    writing.catch(() => undefined);
    this.position += this.batchBytes;
    this.batch = [];
    this.batchBytes = 0;
    this.inFlight.push(writing);
    if (this.inFlight.length >= WRITES_IN_FLIGHT) await this.inFlight.shift();
  }
}

/** Writes `parts` whole at `position` of `fd`, going on after a short write. */
async function writeAllAt(fd: number, parts: Uint8Array[], position: number): Promise<void> {
  let left = parts;
  let at = position;
  while (left.length > 0) {
    let written = await new Promise<number>((resolve, reject) =>
      writev(fd, left, at, (error, bytes) => (error ? reject(error) : resolve(bytes))),
    );
    if (written === 0) throw new Error(`writev wrote nothing at byte ${at}`);
    at += written;
    const rest: Uint8Array[] = [];
    for (const part of left) {
      if (written >= part.byteLength) written -= part.byteLength;
      else {
        rest.push(written > 0 ? part.subarray(written) : part);
        written = 0;
      }
    }
    left = rest;
  }
}
