import { createHash, randomBytes } from "node:crypto";
import { open, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
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
  const { manifest, manifestId } = await client.resolve(name);
  const before = { ...client.chunks.stats };
  const progress: FetchProgress = {
    imageSize: manifest.size,
    bytesDone: 0,
    chunks: manifest.chunks.length,
    chunksDone: 0,
  };
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(4).toString("hex")}.part`);
  const file = await open(temp, "w").catch((error: NodeJS.ErrnoException) => {
    throw new ClientError(`cannot write ${path} (${error.code ?? error.message})`);
  });
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
      await file.write(bytes);
      hash.update(bytes);
      progress.bytesDone += bytes.byteLength;
      progress.chunksDone++;
      options.onProgress?.({ ...progress });
    }
    await file.close();
  } catch (error) {
    await file.close().catch(() => undefined);
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
