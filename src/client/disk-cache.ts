import { close, fstat, futimes, open, read } from "node:fs";
import { readdir, rm, stat } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { isObjectId } from "../format/ids.js";
import { writeFileAtomic } from "../lib/atomic-file.js";

/** Default size limit of the local cache: 8 GiB. */
export const DEFAULT_CACHE_LIMIT = 8 * 1024 ** 3;

/** Temporary files older than this are left-overs of a crash, removed by a prune. */
const STALE_TEMP_MS = 60 * 60 * 1000;

/** A file's mtime, its last use, is refreshed at most this often by one process. */
const TOUCH_EVERY_MS = 10 * 60 * 1000;

/** What the cache holds. */
export interface CacheUsage {
  chunks: number;
  chunkBytes: number;
  manifests: number;
  manifestBytes: number;
}

/** What one prune did. */
export interface PruneResult {
  removedChunks: number;
  freedBytes: number;
  usage: CacheUsage;
}

type Kind = "chunks" | "manifests";

interface CachedFile {
  path: string;
  size: number;
  used: number;
}

/**
 * `$EDGEBOOT_CACHE_DIR`, else `$XDG_CACHE_HOME/edgeboot`, else `~/.cache/edgeboot`.
 */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.EDGEBOOT_CACHE_DIR) return env.EDGEBOOT_CACHE_DIR;
  return join(env.XDG_CACHE_HOME || join(homedir(), ".cache"), "edgeboot");
}

/**
 * The local, content-addressed cache of compressed chunk frames and manifests, shared by every
 * image and version: `<root>/chunks/<2 hex>/<id>`, `<root>/manifests/<id>`. Files are written to
 * `<root>/tmp` and renamed into place, so a reader never sees half a file; what is read is checked
 * by the caller against its id, and {@link discard} drops a file found corrupt. Least recently used
 * chunks are pruned when the cache grows past its limit (a file's mtime is its last use).
 */
export class DiskCache {
  private readonly touched = new Map<string, number>();
  private writtenSinceCheck = 0;
  private pruning?: Promise<unknown>;

  constructor(
    readonly root: string,
    readonly limitBytes = DEFAULT_CACHE_LIMIT,
  ) {}

  /** The cached frame of chunk `id`, or undefined. Marks it used. */
  async readChunk(id: string): Promise<Buffer | undefined> {
    return this.read("chunks", id);
  }

  /** Stores the frame of chunk `id` (already checked against its id). */
  async writeChunk(id: string, frame: Uint8Array): Promise<void> {
    await this.write("chunks", id, frame);
    this.writtenSinceCheck += frame.byteLength;
    if (this.overdue()) this.pruneInBackground();
  }

  /** The cached bytes of manifest `id`, or undefined. */
  async readManifest(id: string): Promise<Buffer | undefined> {
    return this.read("manifests", id);
  }

  /** Stores manifest `id` (already checked against its id). */
  async writeManifest(id: string, bytes: Uint8Array): Promise<void> {
    await this.write("manifests", id, bytes);
  }

  /** Removes a cached object found corrupt, so that it is fetched again. */
  async discard(kind: Kind, id: string): Promise<void> {
    this.touched.delete(id);
    await rm(this.path(kind, id), { force: true });
  }

  /** Counts what the cache holds. */
  async usage(): Promise<CacheUsage> {
    const chunks = await this.list("chunks");
    const manifests = await this.list("manifests");
    return {
      chunks: chunks.length,
      chunkBytes: sum(chunks),
      manifests: manifests.length,
      manifestBytes: sum(manifests),
    };
  }

  /**
   * Removes least recently used chunks until chunks and manifests together take at most
   * `limitBytes` (the cache's limit by default), and temporary files left by a crash.
   */
  async prune(limitBytes = this.limitBytes): Promise<PruneResult> {
    await this.removeStaleTemps();
    const chunks = (await this.list("chunks")).sort((a, b) => a.used - b.used);
    const manifestBytes = sum(await this.list("manifests"));
    let total = sum(chunks) + manifestBytes;
    let removedChunks = 0;
    let freedBytes = 0;
    for (const file of chunks) {
      if (total <= limitBytes) break;
      await rm(file.path, { force: true });
      total -= file.size;
      freedBytes += file.size;
      removedChunks++;
    }
    return { removedChunks, freedBytes, usage: await this.usage() };
  }

  /** Waits for a prune started by writes, if any. */
  async settle(): Promise<void> {
    await this.pruning;
  }

  private overdue(): boolean {
    return this.writtenSinceCheck > this.limitBytes / 32;
  }

  private pruneInBackground(): void {
    if (this.pruning) return;
    this.pruning = (async () => {
      do {
        this.writtenSinceCheck = 0;
        await this.prune().catch(() => undefined);
      } while (this.overdue());
      this.pruning = undefined;
    })();
  }

  /**
   * The file of `id`, or undefined: opened, sized, read whole and closed through file
   * descriptors (no FileHandle), its mtime refreshed when older than the touch interval.
   */
  private async read(kind: Kind, id: string): Promise<Buffer | undefined> {
    const path = this.path(kind, id);
    let fd: number;
    try {
      fd = await fsOpen(path, "r");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw error;
    }
    try {
      const info = await fsFstat(fd);
      const bytes = Buffer.allocUnsafe(info.size);
      let filled = 0;
      while (filled < bytes.byteLength) {
        const got = await fsRead(fd, bytes, filled, bytes.byteLength - filled, filled);
        if (got === 0) break;
        filled += got;
      }
      const now = Date.now();
      if (now - Math.max(info.mtimeMs, this.touched.get(id) ?? 0) > TOUCH_EVERY_MS) {
        this.touched.set(id, now);
        await fsFutimes(fd, now / 1000, now / 1000).catch(() => undefined);
      }
      return filled === bytes.byteLength ? bytes : bytes.subarray(0, filled);
    } finally {
      await fsClose(fd);
    }
  }

  /**
   * Writes `bytes` as the file of `id`: into a file of its own under `<root>/tmp`, renamed into
   * place, so that a reader sees the whole file or none; directories made when missing.
   */
  private async write(kind: Kind, id: string, bytes: Uint8Array): Promise<void> {
    await writeFileAtomic(this.path(kind, id), bytes, {
      tempDir: join(this.root, "tmp"),
      makeDirs: true,
    });
    this.touched.set(id, Date.now());
  }

  private path(kind: Kind, id: string): string {
    if (!isObjectId(id)) throw new Error(`not an object id: ${JSON.stringify(id)}`);
    return kind === "chunks"
      ? join(this.root, "chunks", id.slice(0, 2), id)
      : join(this.root, "manifests", id);
  }

  private async list(kind: Kind): Promise<CachedFile[]> {
    const dirs =
      kind === "chunks"
        ? (await entries(join(this.root, "chunks"))).map((d) => join(this.root, "chunks", d))
        : [join(this.root, "manifests")];
    const files: CachedFile[] = [];
    for (const dir of dirs) {
      for (const name of await entries(dir)) {
        if (!isObjectId(name)) continue;
        const path = join(dir, name);
        const info = await stat(path).catch(() => undefined);
        if (info?.isFile()) files.push({ path, size: info.size, used: info.mtimeMs });
      }
    }
    return files;
  }

  private async removeStaleTemps(): Promise<void> {
    const dir = join(this.root, "tmp");
    for (const name of await entries(dir)) {
      const info = await stat(join(dir, name)).catch(() => undefined);
      if (info && Date.now() - info.mtimeMs > STALE_TEMP_MS) {
        await rm(join(dir, name), { force: true });
      }
    }
  }
}

const fsOpen = promisify(open);
const fsFstat = promisify(fstat);
const fsRead = (fd: number, into: Buffer, offset: number, length: number, position: number) =>
  new Promise<number>((resolve, reject) =>
    read(fd, into, offset, length, position, (error, bytes) =>
      error ? reject(error) : resolve(bytes),
    ),
  );
const fsFutimes = promisify(futimes);
const fsClose = promisify(close);

async function entries(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return [];
    throw error;
  }
}

function sum(files: CachedFile[]): number {
  return files.reduce((total, file) => total + file.size, 0);
}
