import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { BootClient } from "../../src/client/index.js";
import { sha256HexNative as digest } from "../../src/lib/sha256-native.js";
import { startProxy } from "../../testing/http-proxy.mjs";
import { imageBytes, runPublish, useEdgeAndDir } from "../cli/edge.js";

const fixture = useEdgeAndDir();
const CHUNK = 65536;
const SIZE = 10 * CHUNK + 777;
let original: Buffer;

async function published(name: string, chunking: string): Promise<void> {
  original ??= imageBytes(SIZE, 71);
  const image = join(fixture.dir, "reader.img");
  await writeFile(image, original);
  const run = await runPublish(fixture.edge, image, name, "--chunking", chunking);
  expect(run.code, run.stderr).toBe(0);
}

/**
 * Publishes the reader's image as `name` (fixed 64K chunks) with a prefetch list of `chunks`: a
 * recorded boot that read them whole, in that order.
 */
async function publishedWithList(name: string, chunks: readonly number[]): Promise<void> {
  original ??= imageBytes(SIZE, 71);
  const image = join(fixture.dir, `${name}.img`);
  await writeFile(image, original);
  const profile = join(fixture.dir, `${name}-profile.json`);
  const reads = chunks.map((chunk) => [chunk * CHUNK, CHUNK]);
  await writeFile(
    profile,
    JSON.stringify({
      format: "edgeboot-boot-profile",
      version: 1,
      images: [{ name, manifest: "0".repeat(64), reads }],
    }),
  );
  const run = await runPublish(
    fixture.edge,
    image,
    name,
    ...["--chunking", "fixed:64K", "--profile", profile],
  );
  expect(run.code, run.stderr).toBe(0);
}

function client(cache: string, edges = [fixture.edge.url]): BootClient {
  return new BootClient({ edges, cacheDir: join(fixture.dir, cache) });
}

describe("ImageReader against a running edge", () => {
  it.each([
    ["fixed", "fixed:64K"],
    ["cdc", "cdc:4K/16K/64K"],
  ])(
    "reads any range of a %s-chunked image: offset 0, the last byte, across chunk boundaries",
    async (name, chunking) => {
      await published(name, chunking);
      const boot = client(`cache-${name}`);
      try {
        const reader = await boot.open(name);
        expect(reader.size).toBe(SIZE);
        const ranges: [number, number][] = [
          [0, 1],
          [0, 4096],
          [SIZE - 1, 1],
          [SIZE - 4096, 4096],
          [CHUNK - 10, 20],
          [CHUNK - 1, 2 * CHUNK + 2],
          [3 * CHUNK, CHUNK],
          [12345, 0],
          [0, SIZE],
        ];
        for (const [offset, length] of ranges) {
          const bytes = await reader.read(offset, length);
          expect(bytes.byteLength).toBe(length);
          expect(digest(bytes), `${offset}+${length}`).toBe(
            digest(original.subarray(offset, offset + length)),
          );
        }
        await expect(reader.read(SIZE, 1)).rejects.toThrow(RangeError);
        await expect(reader.read(SIZE - 1, 2)).rejects.toThrow(/past the image/);
        await expect(reader.read(-1, 1)).rejects.toThrow(RangeError);
      } finally {
        await boot.close();
      }
    },
  );

  it("answers a read within one chunk with a view of the chunk held in memory, not a copy", async () => {
    await published("views", "fixed:64K");
    const boot = client("cache-views");
    try {
      const reader = await boot.open("views");
      const first = await reader.read(CHUNK + 100, 4096);
      const second = await reader.read(CHUNK + 8192, 4096);
      expect(second.buffer).toBe(first.buffer);
      expect(Buffer.from(second)).toEqual(original.subarray(CHUNK + 8192, CHUNK + 12288));
      const across = await reader.read(2 * CHUNK - 10, 20);
      expect(across.buffer).not.toBe(first.buffer);
      expect(Buffer.from(across)).toEqual(original.subarray(2 * CHUNK - 10, 2 * CHUNK + 10));
    } finally {
      await boot.close();
    }
  });

  it("keeps a prefetch list that fits the memory budget decoded: the reads after it touch neither disk nor edge", async () => {
    await publishedWithList("listed", [5, 1, 3, 0, 2, 4]);
    // Room for the six listed chunks and a little more, not for twice as much.
    const boot = new BootClient({
      edges: [fixture.edge.url],
      cacheDir: join(fixture.dir, "cache-listed"),
      memoryBytes: 7 * CHUNK,
    });
    try {
      const reader = await boot.open("listed");
      expect(await reader.startPrefetch()).toBe(6);
      const fetched = boot.chunks.stats.fetched;
      const bytes = await reader.read(0, 6 * CHUNK);
      expect(digest(bytes)).toBe(digest(original.subarray(0, 6 * CHUNK)));
      expect(boot.chunks.stats.fetched).toBe(fetched);
      expect(boot.chunks.stats.disk).toBe(0);
      expect(boot.chunks.stats.memory).toBe(6);
    } finally {
      await boot.close();
    }
  });

  it("serves a read before the prefetch list: a read joining a listed chunk's queued load moves it to the front", async () => {
    await publishedWithList(
      "ordered",
      Array.from({ length: 10 }, (_, chunk) => chunk),
    );
    const proxy = await startProxy({ upstream: fixture.edge.url, rttMs: 40 });
    // Two downloads at once: one for the list, one kept for reads; the whole list queued at once.
    const boot = new BootClient({
      edges: [proxy.url],
      cacheDir: join(fixture.dir, "cache-ordered"),
      inFlight: 2,
    });
    try {
      const reader = await boot.open("ordered", { prefetchConcurrency: 10 });
      const manifest = await boot.resolve("ordered");
      const prefetching = reader.startPrefetch();
      await new Promise((resolve) => setTimeout(resolve, 10));
      const last = await reader.read(9 * CHUNK, 4096);
      expect(digest(last)).toBe(digest(original.subarray(9 * CHUNK, 9 * CHUNK + 4096)));
      await prefetching;
      const order = proxy.requests
        .filter((r) => r.path.startsWith("/v1/chunks/"))
        .map((r) => manifest.manifest.chunks.indexOf(r.path.split("/").pop() as string));
      expect(order).toHaveLength(10);
      // Listed last, read first: fetched second (first come first served made it tenth).
      expect(order.indexOf(9)).toBeLessThanOrEqual(1);
    } finally {
      await boot.close();
      await proxy.close();
    }
  });

  it("shares one download among concurrent reads of a chunk, and reads ahead of a sequential reader in proportion to its run", async () => {
    await published("shared", "fixed:64K");
    const proxy = await startProxy({ upstream: fixture.edge.url });
    const boot = client("cache-shared", [proxy.url]);
    try {
      const reader = await boot.open("shared", { readAhead: 0 });
      const reads = await Promise.all(
        Array.from({ length: 20 }, (_, i) => reader.read(i * 100, 100)),
      );
      expect(digest(Buffer.concat(reads))).toBe(digest(original.subarray(0, 2000)));
      const chunkGets = proxy.requests.filter((r) => r.path.startsWith("/v1/chunks/"));
      expect(chunkGets).toHaveLength(1);

      const fetched = async () => {
        await new Promise((resolve) => setTimeout(resolve, 300));
        return new Set(
          proxy.requests.filter((r) => r.path.startsWith("/v1/chunks/")).map((r) => r.path),
        ).size;
      };
      const ahead = await boot.open("shared", { readAhead: 4 });
      // Two adjacent small reads (a small file): no read-ahead, only chunk 1 is added.
      await ahead.read(CHUNK, 4096);
      await ahead.read(CHUNK + 4096, 4096);
      expect(await fetched()).toBe(2);
      // The run reaches one chunk's worth (CHUNK + 8 KiB read from CHUNK): one chunk ahead (3).
      await ahead.read(CHUNK + 8192, CHUNK);
      expect(await fetched()).toBe(4);
      // Three chunks' worth: three ahead of the last chunk read (4): 5, 6, 7.
      await ahead.read(2 * CHUNK + 8192, 2 * CHUNK);
      expect(await fetched()).toBe(8);
      // A jump starts a new run: nothing ahead of chunk 9 until it is long enough.
      await ahead.read(9 * CHUNK, 4096);
      await ahead.read(9 * CHUNK + 4096, 4096);
      expect(await fetched()).toBe(9);

      // Served from the disk cache (a warm reboot: a new client on the same cache), a long run
      // reads nothing ahead: chunk 8, never read, is not fetched.
      const warm = client("cache-shared", [proxy.url]);
      try {
        const again = await warm.open("shared", { readAhead: 4 });
        await again.read(2 * CHUNK, 2 * CHUNK);
        await again.read(4 * CHUNK, 2 * CHUNK);
        expect(await fetched()).toBe(9);
      } finally {
        await warm.close();
      }
    } finally {
      await boot.close();
      await proxy.close();
    }
  });
});
