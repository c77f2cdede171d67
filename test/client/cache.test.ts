import { mkdtemp, readdir, rm, stat, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { DiskCache, defaultCacheDir } from "../../src/client/disk-cache.js";

const id = (n: number) => n.toString(16).padStart(64, "0");
let root: string;

afterEach(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

async function cacheWith(count: number, size: number, limit = 1 << 30): Promise<DiskCache> {
  root = await mkdtemp(join(tmpdir(), "edgeboot-cache-"));
  const cache = new DiskCache(root, limit);
  for (let n = 1; n <= count; n++) {
    await cache.writeChunk(id(n), new Uint8Array(size).fill(n));
    const when = new Date(Date.UTC(2026, 0, 1, 0, n));
    await utimes(join(root, "chunks", id(n).slice(0, 2), id(n)), when, when);
  }
  return cache;
}

describe("DiskCache", () => {
  it("finds an earlier run's files, and counts and prunes past stray entries", async () => {
    await cacheWith(2, 10);
    await writeFile(join(root, "chunks", "stray"), "not a directory");
    await writeFile(join(root, "chunks", id(1).slice(0, 2), "not-an-id"), "x");
    const reopened = new DiskCache(root);
    expect((await reopened.readChunk(id(1)))?.[0]).toBe(1);
    await rm(join(root, "chunks", id(2).slice(0, 2), id(2)));
    expect(await reopened.readChunk(id(2))).toBeUndefined();
    expect(await reopened.usage()).toMatchObject({ chunks: 1, chunkBytes: 10 });
    await reopened.prune(0);
    expect(await reopened.readChunk(id(1))).toBeUndefined();
  });

  it("is found under EDGEBOOT_CACHE_DIR, else XDG_CACHE_HOME, else ~/.cache", () => {
    expect(defaultCacheDir({ EDGEBOOT_CACHE_DIR: "/c" })).toBe("/c");
    expect(defaultCacheDir({ XDG_CACHE_HOME: "/x" })).toBe("/x/edgeboot");
    expect(defaultCacheDir({})).toMatch(/\.cache\/edgeboot$/);
  });

  it("stores by id, reads back, and leaves no temporary file", async () => {
    const cache = await cacheWith(3, 100);
    expect((await cache.readChunk(id(2)))?.[0]).toBe(2);
    expect(await cache.readChunk(id(9))).toBeUndefined();
    expect(await readdir(join(root, "tmp"))).toEqual([]);
    expect(await cache.usage()).toMatchObject({ chunks: 3, chunkBytes: 300 });
    await cache.discard("chunks", id(2));
    expect(await cache.readChunk(id(2))).toBeUndefined();
  });

  it("prunes the least recently used chunks first; a read counts as a use", async () => {
    await cacheWith(5, 1000);
    const cache = new DiskCache(root);
    await cache.readChunk(id(1));
    const result = await cache.prune(2500);
    expect(result.removedChunks).toBe(3);
    expect(result.usage.chunkBytes).toBe(2000);
    expect(await cache.readChunk(id(1))).toBeDefined();
    expect(await cache.readChunk(id(5))).toBeDefined();
    for (const n of [2, 3, 4]) expect(await cache.readChunk(id(n))).toBeUndefined();
  });

  it("refreshes a read file's mtime only when it is older than the touch interval", async () => {
    await cacheWith(2, 100);
    const recent = new Date(Date.now() - 60_000);
    const file = (n: number) => join(root, "chunks", id(n).slice(0, 2), id(n));
    await utimes(file(2), recent, recent);
    const cache = new DiskCache(root);
    expect((await cache.readChunk(id(1)))?.byteLength).toBe(100);
    expect((await cache.readChunk(id(2)))?.byteLength).toBe(100);
    expect((await stat(file(1))).mtimeMs).toBeGreaterThan(Date.now() - 60_000);
    // utimes and stat round through seconds and nanoseconds: within a millisecond is untouched.
    expect(Math.abs((await stat(file(2))).mtimeMs - recent.getTime())).toBeLessThan(1);
  });

  it("prunes by itself when writes take it past its limit", async () => {
    const cache = await cacheWith(0, 0, 10_000);
    for (let n = 1; n <= 30; n++) await cache.writeChunk(id(n), new Uint8Array(1000));
    await cache.settle();
    expect((await cache.usage()).chunkBytes).toBeLessThanOrEqual(10_000);
  });

  it("refuses a hostile id instead of writing outside the cache", async () => {
    const cache = await cacheWith(0, 0);
    await expect(cache.writeChunk("../../etc/passwd", new Uint8Array(1))).rejects.toThrow(
      /not an object id/,
    );
    await expect(cache.readChunk(`${id(1).slice(0, 63)}/`)).rejects.toThrow(/not an object id/);
  });

  it("removes temporary files left by a crash when they are old", async () => {
    const cache = await cacheWith(1, 10);
    const stale = join(root, "tmp", "left-over");
    await writeFile(stale, "x");
    const old = new Date(Date.now() - 2 * 3600 * 1000);
    await utimes(stale, old, old);
    await writeFile(join(root, "tmp", "in-progress"), "y");
    await cache.prune();
    expect(await readdir(join(root, "tmp"))).toEqual(["in-progress"]);
  });
});
