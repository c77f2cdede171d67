import { createHash, randomBytes } from "node:crypto";
import { open, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
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
 * once (from the cache, else the edges), each verified, the whole checked against the manifest's
 * SHA-256 before the file is renamed into place. Only chunks missing from the cache are downloaded.
 */
export async function fetchImage(
  client: BootClient,
  name: string,
  path: string,
  options: { window?: number; onProgress?: (progress: FetchProgress) => void } = {},
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
    const window = Math.max(1, options.window ?? 16);
    const pending: Promise<Uint8Array>[] = [];
    let next = 0;
    const schedule = () => {
      while (pending.length < window && next < manifest.chunks.length) {
        const loading = client.chunks.loadOnce(
          manifest.chunks[next] as string,
          manifest.lengths[next] as number,
        );
        loading.catch(() => undefined);
        pending.push(loading);
        next++;
      }
    };
    schedule();
    while (pending.length > 0) {
      const bytes = await (pending.shift() as Promise<Uint8Array>);
      schedule();
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
