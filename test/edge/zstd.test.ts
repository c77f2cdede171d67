import { describe, expect, it } from "vitest";
import { decodeZstd } from "../../src/edge/zstd.js";
import { fromBase64 } from "../../src/format/base64.js";
import { FormatError } from "../../src/format/errors.js";
import {
  BIG_WINDOW_B64,
  BOMB_FCS_B64,
  BOMB_NO_FCS_B64,
  NO_FCS_B64,
  sample,
  WITH_FCS_B64,
} from "../fixtures/zstd-vectors.js";

const MIB = 1024 * 1024;

describe("decodeZstd (the vendored WebAssembly decoder)", () => {
  it("decodes frames with and without a content size, and a large window", () => {
    expect(decodeZstd(fromBase64(WITH_FCS_B64), MIB)).toEqual(sample(5000));
    expect(decodeZstd(fromBase64(NO_FCS_B64), MIB)).toEqual(sample(5000));
    expect(decodeZstd(fromBase64(BIG_WINDOW_B64), 8 * MIB).byteLength).toBeGreaterThan(0);
  });

  it("decodes the same frame many times over one instance, freeing as it goes", () => {
    const frame = fromBase64(WITH_FCS_B64);
    for (let i = 0; i < 2000; i++) expect(decodeZstd(frame, MIB).byteLength).toBe(5000);
  });

  it("stops a bomb at the limit, with or without a declared size", () => {
    for (const bomb of [BOMB_FCS_B64, BOMB_NO_FCS_B64]) {
      expect(() => decodeZstd(fromBase64(bomb), 8 * MIB)).toThrow(FormatError);
    }
    expect(() => decodeZstd(fromBase64(WITH_FCS_B64), 4999)).toThrow(/more than 4999 bytes|limit/);
  });

  it("refuses trailing bytes, a second frame, a cut frame and a wrong checksum", () => {
    const frame = fromBase64(WITH_FCS_B64);
    const twice = new Uint8Array([...frame, ...frame]);
    expect(() => decodeZstd(twice, MIB)).toThrow(/after the zstd frame/);
    expect(() => decodeZstd(new Uint8Array([...frame, 0]), MIB)).toThrow(FormatError);
    expect(() => decodeZstd(frame.subarray(0, frame.length - 9), MIB)).toThrow(/cut short/);
    const badChecksum = frame.slice();
    const last = badChecksum.length - 1;
    badChecksum[last] = (badChecksum[last] as number) ^ 0xff;
    expect(() => decodeZstd(badChecksum, MIB)).toThrow(/does not decode/);
  });

  it("refuses corrupt blocks without crashing the instance", () => {
    const frame = fromBase64(NO_FCS_B64);
    for (let at = 8; at < frame.length - 4; at += 7) {
      const corrupt = frame.slice();
      corrupt[at] = (corrupt[at] as number) ^ 0x5a;
      try {
        const out = decodeZstd(corrupt, MIB);
        expect(out.byteLength).toBeLessThanOrEqual(MIB);
      } catch (error) {
        expect(error).toBeInstanceOf(FormatError);
      }
    }
    expect(decodeZstd(frame, MIB)).toEqual(sample(5000));
  });
});
