import { describe, expect, it } from "vitest";
import { openChunk } from "../../src/edge/open-chunk.js";
import { fromBase64 } from "../../src/format/base64.js";
import { ChunkIdMismatch, NotAChunkFrame } from "../../src/format/chunk-check.js";
import { gzipFrame } from "../../src/format/codec.js";
import { FormatError } from "../../src/format/errors.js";
import { sha256Hex } from "../../src/format/hex.js";
import { BOMB_NO_FCS_B64, NO_FCS_B64, SAMPLE_SHA256, sample } from "../fixtures/zstd-vectors.js";

const PLAIN = sample(5000);
const FRAMES = { gzip: gzipFrame(PLAIN), zstd: fromBase64(NO_FCS_B64) };

async function refusal(opening: Promise<unknown>): Promise<Error> {
  try {
    await opening;
  } catch (error) {
    return error as Error;
  }
  throw new Error("the chunk was opened");
}

describe("openChunk, the edge's one way to prove a chunk", () => {
  it.each(Object.entries(FRAMES))(
    "opens a %s chunk of a known length, and proves an upload",
    async (_, frame) => {
      expect(await openChunk(frame, SAMPLE_SHA256, 5000)).toEqual(PLAIN);
      expect(await openChunk(frame, SAMPLE_SHA256)).toBeUndefined();
    },
  );

  it.each(Object.entries(FRAMES))(
    "refuses a %s chunk of another id or length",
    async (codec, frame) => {
      const other = await sha256Hex(new TextEncoder().encode("other"));
      const wrongId = await refusal(openChunk(frame, other, 5000));
      expect(wrongId).toBeInstanceOf(ChunkIdMismatch);
      expect((wrongId as ChunkIdMismatch).actual).toBe(SAMPLE_SHA256);
      expect(await refusal(openChunk(frame, other))).toBeInstanceOf(ChunkIdMismatch);
      const longer = await refusal(openChunk(frame, SAMPLE_SHA256, 5001));
      expect(longer).toBeInstanceOf(FormatError);
      const shorter = await refusal(openChunk(frame, SAMPLE_SHA256, 4999));
      expect(shorter.message).toMatch(new RegExp(`^${codec} frame rejected: `));
    },
  );

  it("refuses what is not a frame, and stops a bomb at the length", async () => {
    expect(await refusal(openChunk(PLAIN, SAMPLE_SHA256, 5000))).toBeInstanceOf(NotAChunkFrame);
    const bomb = await refusal(openChunk(fromBase64(BOMB_NO_FCS_B64), SAMPLE_SHA256));
    expect(bomb.message).toMatch(/^zstd frame rejected: /);
  });
});
