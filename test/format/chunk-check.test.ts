import { describe, expect, it } from "vitest";
import {
  ChunkIdMismatch,
  checkChunkId,
  checkChunkLength,
  chunkCodec,
  NotAChunkFrame,
} from "../../src/format/chunk-check.js";
import { gzipFrame } from "../../src/format/codec.js";
import { FormatError } from "../../src/format/errors.js";

const ID = "ab".repeat(32);
const OTHER = "cd".repeat(32);

describe("the checks every reader of chunks makes", () => {
  it("tells the codec by magic, and refuses a frame of neither", () => {
    expect(chunkCodec(gzipFrame(new Uint8Array(3)))).toBe("gzip");
    expect(chunkCodec(Uint8Array.of(0x28, 0xb5, 0x2f, 0xfd, 0))).toBe("zstd");
    expect(() => chunkCodec(Uint8Array.of(1, 2, 3, 4))).toThrow(NotAChunkFrame);
    expect(() => chunkCodec(new Uint8Array(0))).toThrow(/neither gzip nor zstd/);
  });

  it("refuses another length, naming both", () => {
    expect(() => checkChunkLength(ID, 5, 5)).not.toThrow();
    expect(() => checkChunkLength(ID, 5, 4)).toThrow(
      new FormatError(`chunk ${ID} decompressed to 4 bytes, not 5`),
    );
  });

  it("refuses bytes of another hash, carrying what they hash to", () => {
    expect(() => checkChunkId(ID, ID)).not.toThrow();
    let error: unknown;
    try {
      checkChunkId(ID, OTHER);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ChunkIdMismatch);
    expect(error).toBeInstanceOf(FormatError);
    expect((error as ChunkIdMismatch).actual).toBe(OTHER);
    expect((error as Error).message).toBe(
      `chunk ${ID} has the wrong bytes (their SHA-256 is ${OTHER})`,
    );
  });
});
