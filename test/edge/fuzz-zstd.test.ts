import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeZstd } from "../../src/edge/zstd.js";
import { fromBase64 } from "../../src/format/base64.js";
import { FormatError } from "../../src/format/errors.js";
import { FUZZ_RUNS, fuzzTimeout } from "../fixtures/fuzz.js";
import { NO_FCS_B64, sample, WITH_FCS_B64 } from "../fixtures/zstd-vectors.js";

const FRAMES = [fromBase64(WITH_FCS_B64), fromBase64(NO_FCS_B64)];
const MAGIC = [0x28, 0xb5, 0x2f, 0xfd];
const PLAIN = sample(5000);

/** A valid frame with some bytes changed, cut short or extended. */
const damagedFrame = fc
  .record({
    frame: fc.constantFrom(...FRAMES),
    edits: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
    cut: fc.option(fc.nat(), { nil: undefined }),
    tail: fc.uint8Array({ maxLength: 8 }),
  })
  .map(({ frame, edits, cut, tail }) => {
    const out = frame.slice();
    for (const [at, value] of edits) out[at % out.length] = value;
    const cutAt = cut === undefined ? out.length : cut % (out.length + 1);
    return new Uint8Array([...out.subarray(0, cutAt), ...tail]);
  });

/** Bytes that start like a zstd frame and are random after. */
const randomFrame = fc
  .uint8Array({ minLength: 0, maxLength: 300 })
  .map((rest) => new Uint8Array([...MAGIC, ...rest]));

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && a.every((byte, i) => byte === b[i]);
}

function decodesWithinLimitOrRefuses(frame: Uint8Array, limit: number): void {
  try {
    expect(decodeZstd(frame, limit).byteLength).toBeLessThanOrEqual(limit);
  } catch (error) {
    expect(error).toBeInstanceOf(FormatError);
  }
}

describe("decodeZstd against damaged and random frames (fast-check)", () => {
  it(
    "returns at most the limit or refuses with a FormatError, and keeps decoding good frames",
    () => {
      fc.assert(
        fc.property(
          fc.oneof(damagedFrame, randomFrame),
          fc.integer({ min: 0, max: 10_000 }),
          (frame, limit) => {
            decodesWithinLimitOrRefuses(frame, limit);
            expect(sameBytes(decodeZstd(FRAMES[0] as Uint8Array, 5000), PLAIN)).toBe(true);
          },
        ),
        { numRuns: FUZZ_RUNS * 5 },
      );
    },
    fuzzTimeout(5),
  );
});
