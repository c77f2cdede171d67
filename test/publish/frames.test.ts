// What a publish writes is the store's contract with every client and mirror: the same image with
// the same options must give the same chunk files and the same manifest (but its `created` time),
// however the publisher's pipeline reads, hashes, batches and compresses. The digests below were
// taken from the publisher of commit 9da17f0; a change to them means every store churns.
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Chunking } from "../../src/format/manifest.js";
import { sha256HexNative as sha } from "../../src/lib/sha256-native.js";
import { DEFAULT_CHUNKING } from "../../src/publish/chunker.js";
import { DirectoryTarget } from "../../src/publish/dir-target.js";
import { publish } from "../../src/publish/publish.js";
import { imageBytes } from "../cli/edge.js";

let dir: string;
let image: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "edgeboot-frames-"));
  image = join(dir, "image.img");
  // Three whole fixed chunks and a part, the first chunk again, then other bytes: 1,753,576 bytes.
  const bytes = [imageBytes(3 * 262144 + 5000, 11), imageBytes(262144, 11), imageBytes(700000, 12)];
  await writeFile(image, Buffer.concat(bytes));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The manifest's SHA-256 with its `created` time set aside, and that of its distinct chunks' frames in order. */
async function publishedDigests(chunking: Chunking, level: number) {
  const out = join(dir, `store-${chunking.kind}-${level}`);
  await publish({
    image,
    name: "frames",
    target: new DirectoryTarget(out),
    chunking,
    codec: "zstd",
    level,
    jobs: 2,
  });
  const [name] = await readdir(join(out, "v1", "manifests"));
  const text = await readFile(join(out, "v1", "manifests", name as string), "utf8");
  const { chunks } = JSON.parse(text) as { chunks: string[] };
  const frames = await Promise.all(
    [...new Set(chunks)].map((id) => readFile(join(out, "v1", "chunks", id))),
  );
  const timeless = text.replace(/"created":"[^"]*"/, '"created":""');
  return { chunks: chunks.length, manifest: sha(timeless), frames: sha(Buffer.concat(frames)) };
}

describe("published bytes", () => {
  it("fixed 256K chunks, zstd 3 (the defaults): the same frames and manifest as before", async () => {
    expect(await publishedDigests(DEFAULT_CHUNKING, 3)).toEqual({
      chunks: 7,
      manifest: "2dd5e1906b86387819836915c098e771bd8cda285851c92e3f4d401e62b88687",
      frames: "6a2c76b18462a4e39ecd280338b76fa12218e137916707e7e544e288dedef24a",
    });
  });

  it("fixed 256K chunks, zstd 2: the same frames as before", async () => {
    const digests = await publishedDigests(DEFAULT_CHUNKING, 2);
    expect(digests.frames).toBe("6855de3f2c55bfb91b8ae9f1a70a9e930e12b196f2cfe574f8b1fba5e7ac9e26");
  });

  it("CDC 16K/64K/256K, zstd 3: the same chunks, frames and manifest as before", async () => {
    const cdc: Chunking = { kind: "cdc", min: 16384, avg: 65536, max: 262144 };
    expect(await publishedDigests(cdc, 3)).toEqual({
      chunks: 24,
      manifest: "e024a6f8153c3a960a5f74fae17d08fa561fe27ccd8328b4855f0608bbca3f09",
      frames: "b25498f823f805c0c6090d0bab7b840d3fcc7baac56704c8516fc5294f28e7c1",
    });
  });
});
