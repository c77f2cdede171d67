import { readFile, writeFile } from "node:fs/promises";
import { type AddressInfo, createServer, type Socket } from "node:net";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { BootClient } from "../../src/client/index.js";
import { sha256HexNative as digest } from "../../src/lib/sha256-native.js";
import { imageBytes, runCli, tempDir } from "../cli/edge.js";
import { closedPort, startStaticServer } from "./loopback-servers.js";

describe("a directory store behind a static web server as a mirror", () => {
  it("serves fetch when the first edge is down, and prefetches a manifest's list", async () => {
    const { dir, remove } = await tempDir();
    const image = imageBytes(5 * 65536 + 99, 81);
    await writeFile(join(dir, "img"), image);
    const published = await runCli([
      "publish",
      join(dir, "img"),
      "--name",
      "static",
      "--out",
      join(dir, "mirror"),
      "--chunking",
      "fixed:64K",
    ]);
    expect(published.code, published.stderr).toBe(0);
    const mirror = await startStaticServer(join(dir, "mirror"));
    try {
      const down = `http://127.0.0.1:${await closedPort()}`;
      const out = join(dir, "out.img");
      const fetched = await runCli([
        "fetch",
        down,
        "static",
        "-o",
        out,
        "--mirror",
        mirror.url,
        "--cache-dir",
        join(dir, "cache"),
      ]);
      expect(fetched.code, fetched.stderr).toBe(0);
      expect(digest(await readFile(out))).toBe(digest(image));

      const client = new BootClient({ edges: [mirror.url], cacheDir: join(dir, "cache2") });
      try {
        const { manifest } = await client.resolve("static");
        const reader = client.reader({ ...manifest, prefetch: [4, 0, 2] });
        expect(await reader.startPrefetch()).toBe(3);
        expect(client.chunks.stats.fetched).toBe(3);
        expect((await client.cache.usage()).chunks).toBe(3);
        expect(digest(await reader.read(0, 65536))).toBe(digest(image.subarray(0, 65536)));
        expect(client.chunks.stats.fetched).toBe(3);
      } finally {
        await client.close();
      }
    } finally {
      await mirror.close();
      await remove();
    }
  });

  it("times out an edge that accepts connections and never answers, and reads from the next", async () => {
    const { dir, remove } = await tempDir();
    const image = imageBytes(2 * 65536, 82);
    await writeFile(join(dir, "img"), image);
    const published = await runCli([
      "publish",
      join(dir, "img"),
      "--name",
      "slow",
      "--out",
      join(dir, "mirror"),
    ]);
    expect(published.code, published.stderr).toBe(0);
    const mirror = await startStaticServer(join(dir, "mirror"));
    const sockets: Socket[] = [];
    const silent = createServer((socket) => void sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const hanging = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
    const client = new BootClient({
      edges: [hanging, mirror.url],
      cacheDir: join(dir, "cache"),
      timeoutMs: 300,
    });
    try {
      const started = performance.now();
      const reader = await client.open("slow");
      expect(digest(await reader.read(0, image.byteLength))).toBe(digest(image));
      expect(performance.now() - started).toBeLessThan(5000);
    } finally {
      await client.close();
      await mirror.close();
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
      await remove();
    }
  });

  it("edgeboot cache shows the cache and prunes it", async () => {
    const { dir, remove } = await tempDir();
    try {
      const cache = join(dir, "cache");
      const client = new BootClient({ edges: ["http://127.0.0.1:9"], cacheDir: cache });
      const id = (n: number) => n.toString(16).padStart(64, "0");
      for (let n = 1; n <= 4; n++) await client.cache.writeChunk(id(n), new Uint8Array(300_000));
      await client.close();
      const shown = await runCli(["cache", "--cache-dir", cache]);
      expect(shown.code, shown.stderr).toBe(0);
      expect(shown.stdout).toMatch(/chunks\s+4 \(1\.1 MiB compressed\)/);
      const pruned = await runCli(["cache", "--cache-dir", cache, "--prune", "700K"]);
      expect(pruned.code, pruned.stderr).toBe(0);
      expect(pruned.stdout).toMatch(/pruned 2 chunks/);
      expect(pruned.stdout).toMatch(/chunks\s+2 /);
      const bad = await runCli(["cache", "--cache-dir", cache, "--prune", "lots"]);
      expect(bad.code).toBe(1);
      expect(bad.stderr).toMatch(/--prune must be a size/);
    } finally {
      await remove();
    }
  });
});
