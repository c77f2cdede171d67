// Reading an image into reused buffers (PiecePool, readPieces), fixed chunks taken uncopied
// (chunkStream's piecesHandedOver) and given back once compressed: the published bytes must be
// exactly those of the image whatever buffer they passed through.
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeFrame } from "../../src/format/codec.js";
import { chunkOffsets, decodeManifest } from "../../src/format/manifest.js";
import { sha256HexNative as sha } from "../../src/lib/sha256-native.js";
import { chunkStream } from "../../src/publish/chunker.js";
import { DirectoryTarget } from "../../src/publish/dir-target.js";
import { PiecePool } from "../../src/publish/piece-pool.js";
import { publish } from "../../src/publish/publish.js";
import { readPieces } from "../../src/publish/read-pieces.js";
import { imageBytes } from "../cli/edge.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "edgeboot-read-pieces-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function collect(chunks: AsyncIterable<Buffer>): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for await (const chunk of chunks) out.push(chunk);
  return out;
}

async function file(name: string, bytes: Uint8Array): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, bytes);
  return path;
}

describe("readPieces", () => {
  it("reads pieces of the pool's size, a short last one, and reuses what is given back", async () => {
    const data = imageBytes(10 * 4096 + 100, 3);
    const path = await file("pieces.img", data);
    const pool = new PiecePool(4096);
    const seen = new Set<ArrayBufferLike>();
    const copies: Buffer[] = [];
    const consumed: number[] = [];
    for await (const piece of readPieces(path, "the image", (p) => consumed.push(p.length), pool)) {
      copies.push(Buffer.from(piece));
      seen.add(piece.buffer);
      expect(piece.byteOffset).toBe(0);
      expect(piece.buffer.byteLength).toBe(piece.length);
      pool.give(piece);
    }
    expect(copies.map((c) => c.length)).toEqual([...Array(10).fill(4096), 100]);
    expect(consumed).toEqual(copies.map((c) => c.length));
    expect(Buffer.concat(copies).equals(data)).toBe(true);
    // One piece read ahead while another is consumed: a handful of buffers serve them all.
    expect(seen.size).toBeLessThanOrEqual(4);
  });

  it("says which file failed to read", async () => {
    const pieces = readPieces(join(dir, "absent.img"), "the image", () => {});
    await expect(pieces.next()).rejects.toThrow(/reading the image .*absent\.img failed/);
  });
});

describe("chunkStream with piecesHandedOver", () => {
  it("yields a piece of exactly one fixed chunk as that chunk, and copies it otherwise", async () => {
    const piece = Buffer.from(imageBytes(4096, 4));
    async function* one() {
      yield piece;
    }
    const fixed = { kind: "fixed", size: 4096 } as const;
    const [taken] = await collect(chunkStream(one(), fixed, { piecesHandedOver: true }));
    expect(taken?.buffer).toBe(piece.buffer);
    const [copied] = await collect(chunkStream(one(), fixed));
    expect(copied?.buffer).not.toBe(piece.buffer);
    expect(copied?.equals(piece)).toBe(true);
  });
});

describe("publish through reused buffers", () => {
  it("stores every chunk under the SHA-256 of its bytes, and the image's SHA-256", async () => {
    // 300 chunks of 4 KiB (several existence batches, buffers reused many times), some repeated.
    const unit = imageBytes(40 * 4096, 5);
    const data = Buffer.concat([unit, imageBytes(200 * 4096, 6), unit, imageBytes(1000, 7)]);
    const path = await file("reused.img", data);
    const out = join(dir, "store");
    const summary = await publish({
      image: path,
      name: "reused",
      target: new DirectoryTarget(out),
      chunking: { kind: "fixed", size: 4096 },
      codec: "zstd",
      level: 3,
      jobs: 2,
    });
    const [name] = await readdir(join(out, "v1", "manifests"));
    const manifest = decodeManifest(await readFile(join(out, "v1", "manifests", name as string)));
    expect(manifest.sha256).toBe(sha(data));
    expect(summary.chunks).toBe(281);
    const offsets = chunkOffsets(manifest);
    for (const [index, id] of manifest.chunks.entries()) {
      const at = offsets[index] as number;
      const bytes = data.subarray(at, at + 4096);
      expect(id).toBe(sha(bytes));
      const frame = await readFile(join(out, "v1", "chunks", id));
      const decoded = await decodeFrame(frame, { maxOutputBytes: 4096 });
      expect(Buffer.from(decoded).equals(bytes)).toBe(true);
    }
  });
});
