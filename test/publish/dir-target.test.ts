import { mkdir, mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DirectoryTarget } from "../../src/publish/dir-target.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "edgeboot-dir-target-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const id = (n: number) => n.toString(16).padStart(64, "0");

describe("DirectoryTarget chunks", () => {
  it("writes each chunk whole under v1/chunks, leaves no temporary file, and knows which it has", async () => {
    const target = new DirectoryTarget(join(dir, "out"));
    expect(await target.missing([id(1), id(2)])).toEqual([id(1), id(2)]);
    const frame = Buffer.alloc(300_000, 7);
    await Promise.all([
      target.putChunk(id(1), frame),
      target.putChunk(id(1), frame),
      target.putChunk(id(2), Buffer.from([1, 2, 3])),
    ]);
    expect(await target.missing([id(1), id(2), id(3)])).toEqual([id(3)]);
    const chunks = join(dir, "out", "v1", "chunks");
    expect((await readdir(chunks)).sort()).toEqual([id(1), id(2)]);
    expect((await readFile(join(chunks, id(1)))).equals(frame)).toBe(true);
    expect([...(await readFile(join(chunks, id(2))))]).toEqual([1, 2, 3]);
  });

  it("fails with the file system's error and removes its temporary file", async () => {
    const target = new DirectoryTarget(join(dir, "out"));
    await target.putChunk(id(1), Buffer.from([1]));
    const chunks = join(dir, "out", "v1", "chunks");
    // A directory where the chunk's file should go: the rename cannot replace it.
    await mkdir(join(chunks, id(2), "x"), { recursive: true });
    await expect(target.putChunk(id(2), Buffer.from([2]))).rejects.toThrow();
    expect((await readdir(chunks)).filter((name) => name.endsWith(".tmp"))).toEqual([]);
  });
});
