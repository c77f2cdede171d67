import { execFile } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { startNbd } from "../../testing/edgeboot-nbd.mjs";
import { imageBytes, runCli, runPublish, servedManifest, useEdgeAndDir } from "../cli/edge.js";

const run = promisify(execFile);
const fixture = useEdgeAndDir();
const CHUNK = 65536;

describe("recording a boot and prefetching it", () => {
  it("records the chunks read in order, puts them into the manifest with --profile, and prefetches them", async () => {
    const image = join(fixture.dir, "prof.img");
    await writeFile(image, imageBytes(10 * CHUNK, 91));
    const publish = (...extra: string[]) =>
      runPublish(fixture.edge, image, "prof", "--chunking", "fixed:64K", ...extra);
    expect((await publish()).code).toBe(0);

    const record = join(fixture.dir, "boot.json");
    const recording = await startNbd({
      edge: fixture.edge.url,
      cacheDir: join(fixture.dir, "cache-rec"),
      record,
    });
    try {
      const uri = `nbd://127.0.0.1:${recording.port}/prof`;
      for (const chunk of [7, 2, 7, 5]) {
        await run("qemu-io", ["-r", "-f", "raw", uri, "-c", `read ${chunk * CHUNK + 512} 512`], {
          timeout: 30_000,
        });
      }
    } finally {
      await recording.close();
    }
    const profile = JSON.parse(await readFile(record, "utf8")) as {
      format: string;
      images: { name: string; reads: [number, number][] }[];
    };
    expect(profile.format).toBe("edgeboot-boot-profile");
    const reads = profile.images.find((i) => i.name === "prof")?.reads ?? [];
    expect(reads.map(([offset]) => offset / CHUNK).filter((c) => c !== 0)).toEqual([7, 2, 5]);
    expect(reads.every(([, length]) => length === CHUNK)).toBe(true);

    const profiled = await publish("--profile", record);
    expect(profiled.code, profiled.stderr).toBe(0);
    expect(profiled.stdout).toMatch(/prefetch\s+\d+ chunks/);
    const { manifest } = await servedManifest(fixture.edge.url, "prof");
    const prefetch = manifest.prefetch ?? [];
    expect(prefetch.filter((c) => c !== 0)).toEqual([7, 2, 5]);

    const cache = join(fixture.dir, "cache-pre");
    const booting = await startNbd({ edge: fixture.edge.url, cacheDir: cache });
    try {
      await run("nbdinfo", ["--size", `nbd://127.0.0.1:${booting.port}/prof`], { timeout: 30_000 });
      for (let i = 0; i < 100 && !/prefetched \d+ chunks/.test(booting.stderr()); i++) {
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(booting.stderr()).toMatch(/prefetched \d+ chunks of manifest/);
    } finally {
      await booting.close();
    }
    const shown = await runCli(["cache", "--cache-dir", cache]);
    const cached = Number(/chunks\s+(\d+)/.exec(shown.stdout)?.[1]);
    expect(cached).toBe(prefetch.length);
  });

  it("refuses a profile that records no boot of the name, or is not a profile", async () => {
    const image = join(fixture.dir, "other.img");
    await writeFile(image, imageBytes(CHUNK, 92));
    const profile = join(fixture.dir, "p.json");
    await writeFile(
      profile,
      JSON.stringify({ format: "edgeboot-boot-profile", version: 1, images: [] }),
    );
    const none = await runPublish(fixture.edge, image, "other", "--profile", profile);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/records no boot of "other"/);
    await writeFile(profile, "{");
    const garbage = await runPublish(fixture.edge, image, "other", "--profile", profile);
    expect(garbage.code).toBe(1);
    expect(garbage.stderr).toMatch(/must be JSON/);
  });
});
