import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { BootRecorder } from "../../src/client/boot-record.js";
import { EdgeExportSource } from "../../src/client/edge-exports.js";
import { BootClient } from "../../src/client/index.js";
import { mebibytes } from "../../src/lib/units.js";
import { imageBytes, runCli, useEdgeAndDir } from "../cli/edge.js";

const CHUNK = 65536;
const fixture = useEdgeAndDir();

async function publish(name: string, bytes: Uint8Array, ...extra: string[]): Promise<void> {
  const path = join(fixture.dir, `${name}.img`);
  await writeFile(path, bytes);
  const args = ["publish", path, "--name", name, "--edge", fixture.edge.url];
  const published = await runCli([...args, "--chunking", "fixed:64K", ...extra], {
    EDGEBOOT_TOKEN: fixture.edge.token,
  });
  expect(published.code, published.stderr).toBe(0);
}

function clientIn(cache: string): BootClient {
  return new BootClient({ edges: [fixture.edge.url], cacheDir: join(fixture.dir, cache) });
}

describe("EdgeExportSource: root filesystems as NBD exports", () => {
  it("lists every rootfs by name with its size and publish time, and refuses an unknown one", async () => {
    await publish("alpha", imageBytes(3 * CHUNK, 1));
    await publish("beta", imageBytes(CHUNK + 7, 2));
    const client = clientIn("cache-list");
    try {
      const source = new EdgeExportSource(client);
      const exports = await source.list();
      expect(exports.map((e) => e.name).sort()).toEqual(["alpha", "beta"]);
      const alpha = exports.find((e) => e.name === "alpha")?.description ?? "";
      expect(alpha.startsWith(`${mebibytes(3 * CHUNK)}, published `)).toBe(true);
      expect(alpha).toMatch(/published \d{4}-\d\d-\d\dT/);
      expect(await source.open("gamma")).toBeUndefined();
      expect(await source.open("../alpha")).toBeUndefined();
    } finally {
      await client.close();
    }
  });

  it("resolves the name at each open: a reconnect after a publish reads the new version", async () => {
    const first = imageBytes(2 * CHUNK + 100, 3);
    const second = imageBytes(2 * CHUNK + 100, 4);
    await publish("moving", first);
    const client = clientIn("cache-moving");
    try {
      const source = new EdgeExportSource(client);
      const before = await source.open("moving");
      expect(before?.size).toBe(first.byteLength);
      expect(await before?.read(CHUNK - 10, 20)).toEqual(
        new Uint8Array(first.subarray(CHUNK - 10, CHUNK + 10)),
      );
      await publish("moving", second);
      const after = await source.open("moving");
      expect(after?.description).not.toBe(before?.description);
      expect(await after?.read(0, second.byteLength)).toEqual(new Uint8Array(second));
      expect(await before?.read(0, 16)).toEqual(new Uint8Array(first.subarray(0, 16)));
      await expect(after?.read(second.byteLength - 1, 2)).rejects.toThrow(RangeError);
    } finally {
      await client.close();
    }
  });

  it("records what a boot reads, and prefetches the recorded list once per manifest", async () => {
    const bytes = imageBytes(8 * CHUNK, 5);
    await publish("booted", bytes);
    const record = join(fixture.dir, "boot.json");
    const recorder = new BootRecorder(record);
    const recording = clientIn("cache-record");
    try {
      const source = new EdgeExportSource(recording, { recorder });
      const booting = await source.open("booted");
      await booting?.read(6 * CHUNK + 1, 10);
      await booting?.read(2 * CHUNK - 5, 10);
      await recorder.close();
    } finally {
      await recording.close();
    }
    const profile = JSON.parse(await readFile(record, "utf8")) as {
      images: { name: string; reads: [number, number][] }[];
    };
    const reads = profile.images.find((i) => i.name === "booted")?.reads ?? [];
    expect(reads.map(([offset]) => offset / CHUNK).filter((c) => c !== 0)).toEqual([6, 1, 2]);

    await publish("booted", bytes, "--profile", record);
    const lines: string[] = [];
    const client = clientIn("cache-prefetch");
    try {
      const source = new EdgeExportSource(client, { log: (line) => lines.push(line) });
      await source.open("booted");
      await source.open("booted");
      for (let i = 0; i < 100 && lines.length === 0; i++) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^prefetched \d+ chunks of manifest [0-9a-f]{12} in /);
      expect(client.chunks.stats.fetched).toBeGreaterThanOrEqual(3);
      expect((await client.cache.usage()).chunks).toBeGreaterThanOrEqual(3);
    } finally {
      await client.close();
    }
  });
});
