import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DEFAULT_CHUNKING } from "../../src/publish/chunker.js";
import { EdgeTarget } from "../../src/publish/edge-target.js";
import { publish } from "../../src/publish/publish.js";
import { PublishError, type PublishTarget, RefConflictError } from "../../src/publish/target.js";
import { imageBytes, useEdgeAndDir } from "../cli/edge.js";

const fixture = useEdgeAndDir();

async function image(name: string, size: number, seed: number): Promise<string> {
  const path = join(fixture.dir, name);
  await writeFile(path, imageBytes(size, seed));
  return path;
}

const base = { chunking: DEFAULT_CHUNKING, codec: "zstd" as const, level: 3, jobs: 2 };

describe("publish", () => {
  it("fails with a clear conflict when another publisher moves the ref meanwhile, and a rerun succeeds", async () => {
    const target = new EdgeTarget(fixture.edge.url, { token: fixture.edge.token });
    const other = await image("other.img", 300_000, 1);
    const mine = await image("mine.img", 500_000, 2);
    await publish({ ...base, image: other, name: "contested", target });
    let raced = false;
    const racing: PublishTarget = {
      where: target.where,
      missing: (ids) => target.missing(ids),
      putChunk: (id, frame) => target.putChunk(id, frame),
      getRef: (name) => target.getRef(name),
      putRef: (name, update, expected) => target.putRef(name, update, expected),
      close: () => target.close(),
      async putManifest(id, bytes) {
        await target.putManifest(id, bytes);
        if (!raced) {
          raced = true;
          await publish({ ...base, image: other, name: "contested", target });
        }
      },
    };
    const attempt = publish({ ...base, image: mine, name: "contested", target: racing });
    await expect(attempt).rejects.toBeInstanceOf(RefConflictError);
    await expect(attempt).rejects.toThrow(/moved by another publisher.*rerun/);
    const rerun = await publish({ ...base, image: mine, name: "contested", target });
    expect(rerun.newChunks).toBe(0);
    const ref = (await (await fetch(`${fixture.edge.url}/v1/rootfs/contested`)).json()) as {
      manifest: string;
    };
    expect(ref.manifest).toBe(rerun.manifestId);
    await target.close();
  });

  it("counts a chunk repeated within an image once", async () => {
    const target = new EdgeTarget(fixture.edge.url, { token: fixture.edge.token });
    const repeated = Buffer.concat(Array.from({ length: 8 }, () => imageBytes(262144, 9)));
    const path = join(fixture.dir, "repeated.img");
    await writeFile(path, repeated);
    const summary = await publish({ ...base, image: path, name: "repeated", target });
    expect(summary.chunks).toBe(8);
    expect(summary.uniqueChunks).toBe(1);
    expect(summary.newChunks).toBe(1);
    expect(summary.dedupRatio).toBeCloseTo(8);
    await target.close();
  });

  it("refuses an empty image with nothing written to the target, and publishes it with allowEmpty", async () => {
    const writes: string[] = [];
    const recording: PublishTarget = {
      where: "recording",
      missing: async (ids) => ids.slice(),
      putChunk: async (id) => {
        writes.push(`chunk ${id}`);
      },
      putManifest: async (id) => {
        writes.push(`manifest ${id}`);
      },
      getRef: async () => undefined,
      putRef: async (name) => {
        writes.push(`ref ${name}`);
      },
      close: async () => {},
    };
    const empty = join(fixture.dir, "empty.img");
    await writeFile(empty, "");
    const refused = publish({ ...base, image: empty, name: "empty", target: recording });
    await expect(refused).rejects.toBeInstanceOf(PublishError);
    await expect(refused).rejects.toThrow(/is empty \(0 bytes\).*--allow-empty/);
    expect(writes).toEqual([]);
    const meant = await publish({
      ...base,
      image: empty,
      name: "empty",
      target: recording,
      allowEmpty: true,
    });
    expect(meant.imageSize).toBe(0);
    expect(writes).toEqual([`manifest ${meant.manifestId}`, "ref empty"]);
  });
});
