import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { writeFileAtomic } from "../../src/lib/atomic-file.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "edgeboot-atomic-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("writeFileAtomic", () => {
  it("replaces a file whole and leaves no temporary file", async () => {
    const path = join(dir, "state.json");
    await writeFile(path, "old");
    await writeFileAtomic(path, "new");
    expect(await readFile(path, "utf8")).toBe("new");
    expect(await readdir(dir)).toEqual(["state.json"]);
  });

  it("writes through another temporary directory, making missing directories when asked", async () => {
    const path = join(dir, "chunks", "ab", "id");
    await writeFileAtomic(path, new Uint8Array([1, 2]), {
      tempDir: join(dir, "tmp"),
      makeDirs: true,
    });
    expect([...(await readFile(path))]).toEqual([1, 2]);
    expect(await readdir(join(dir, "tmp"))).toEqual([]);
  });

  it("fails on a missing directory unless asked to make it, and removes its temporary file", async () => {
    const path = join(dir, "missing", "file");
    await expect(writeFileAtomic(path, "x", { tempDir: dir })).rejects.toMatchObject({
      code: "ENOENT",
    });
    expect(await readdir(dir)).toEqual([]);
  });
});
