/** chunkOffsets and chunkAt: the offset table of a manifest and the lookup of a position in it. */
import { describe, expect, it } from "vitest";
import { chunkAt, chunkOffsets } from "../../src/format/manifest.js";
import { fractions, mulberry32 } from "../../testing/random.mjs";
import { fixedManifest, KiB } from "./manifest-fixtures.js";

/** Small deterministic PRNG (mulberry32), so failures reproduce. */
const prng = (seed: number) => fractions(mulberry32(seed));

describe("chunkOffsets and chunkAt", () => {
  /** Reference: the chunk holding `position` by linear scan. */
  function linearChunkAt(lengths: readonly number[], position: number): number {
    let at = 0;
    for (let i = 0; i < lengths.length; i++) {
      if (position >= at && position < at + (lengths[i] as number)) return i;
      at += lengths[i] as number;
    }
    return -1;
  }

  it("computes offsets with the size as the last entry", () => {
    expect(chunkOffsets({ lengths: [] })).toEqual([0]);
    expect(chunkOffsets({ lengths: [4] })).toEqual([0, 4]);
    expect(chunkOffsets({ lengths: [4, 4, 2] })).toEqual([0, 4, 8, 10]);
    expect(chunkOffsets(fixedManifest(10 * KiB, 4 * KiB))).toEqual([0, 4096, 8192, 10240]);
  });

  it("finds the edges of every chunk", () => {
    const lengths = [3, 1, 5, 1, 1, 8];
    const offsets = chunkOffsets({ lengths });
    const size = offsets[lengths.length] as number;
    for (let i = 0; i < lengths.length; i++) {
      const start = offsets[i] as number;
      const end = (offsets[i + 1] as number) - 1;
      expect(chunkAt(offsets, start), `first byte of chunk ${i}`).toBe(i);
      expect(chunkAt(offsets, end), `last byte of chunk ${i}`).toBe(i);
      if (i + 1 < lengths.length) expect(chunkAt(offsets, end + 1)).toBe(i + 1);
    }
    expect(chunkAt(offsets, 0)).toBe(0);
    expect(chunkAt(offsets, size - 1)).toBe(lengths.length - 1);
    expect(chunkAt(offsets, size)).toBe(-1);
    expect(chunkAt(offsets, size + 1000)).toBe(-1);
    expect(chunkAt(offsets, -1)).toBe(-1);
    expect(chunkAt(offsets, Number.MIN_SAFE_INTEGER)).toBe(-1);
  });

  it("returns -1 for every position of an empty manifest", () => {
    const offsets = chunkOffsets({ lengths: [] });
    for (const position of [-1, 0, 1, 1000]) expect(chunkAt(offsets, position)).toBe(-1);
  });

  it("handles a single chunk", () => {
    const offsets = chunkOffsets({ lengths: [7] });
    expect([-1, 0, 3, 6, 7].map((p) => chunkAt(offsets, p))).toEqual([-1, 0, 0, 0, -1]);
  });

  it("agrees with a linear scan over many random positions", () => {
    const random = prng(20261126);
    for (let round = 0; round < 30; round++) {
      const count = 1 + Math.floor(random() * (round < 10 ? 5 : 400));
      const lengths = Array.from({ length: count }, () =>
        random() < 0.3 ? 1 : 1 + Math.floor(random() * 1000),
      );
      const offsets = chunkOffsets({ lengths });
      const size = offsets[count] as number;
      for (let probe = 0; probe < 300; probe++) {
        const position = Math.floor(random() * (size + 20)) - 10;
        expect(chunkAt(offsets, position), `position ${position} of ${size}`).toBe(
          linearChunkAt(lengths, position),
        );
      }
    }
  });

  it("works at 4 GiB and beyond (no 32-bit overflow)", () => {
    const chunkSize = 256 * KiB;
    const lengths = new Array<number>(16_384 * 4).fill(chunkSize);
    lengths.push(123);
    const offsets = chunkOffsets({ lengths });
    const size = 16_384 * 4 * chunkSize + 123;
    expect(offsets[lengths.length]).toBe(size);
    expect(chunkAt(offsets, 2 ** 32)).toBe(2 ** 32 / chunkSize);
    expect(chunkAt(offsets, 2 ** 31 - 1)).toBe(2 ** 31 / chunkSize - 1);
    expect(chunkAt(offsets, size - 1)).toBe(lengths.length - 1);
    expect(chunkAt(offsets, size)).toBe(-1);
  });
});
