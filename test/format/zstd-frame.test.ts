import { describe, expect, it } from "vitest";
import { fromBase64 } from "../../src/format/base64.js";
import { FormatError } from "../../src/format/errors.js";
import {
  inspectZstdFrame,
  parseZstdBlockHeader,
  parseZstdFrameHeader,
  zstdFrameHeaderLength,
} from "../../src/format/zstd-frame.js";
import { concatBytes } from "../../src/lib/bytes.js";
import {
  BIG_WINDOW_B64,
  BOMB_FCS_B64,
  BOMB_NO_FCS_B64,
  NO_FCS_B64,
  WITH_FCS_B64,
} from "../fixtures/zstd-vectors.js";

const frame = (b64: string) => fromBase64(b64);

/** `parts` one after another (src/lib's concatBytes, spread). */
const concat = (...parts: Uint8Array[]): Uint8Array => concatBytes(parts);

describe("inspectZstdFrame", () => {
  it("reads the declared content size and bounds the output of an honest frame", () => {
    const shape = inspectZstdFrame(frame(WITH_FCS_B64));
    expect(shape.contentSize).toBe(5000);
    expect(shape.outputBound).toBeGreaterThanOrEqual(5000);
    expect(shape.outputBound).toBeLessThanOrEqual(5000 + 128 * 1024);
  });

  it("bounds a frame without a content size by its window", () => {
    const shape = inspectZstdFrame(frame(NO_FCS_B64));
    expect(shape.contentSize).toBeUndefined();
    expect(shape.outputBound).toBeGreaterThanOrEqual(5000);
    expect(inspectZstdFrame(frame(BIG_WINDOW_B64)).contentSize).toBeUndefined();
  });

  it("shows a bomb for what it is: a bound far above any chunk", () => {
    const fcs = inspectZstdFrame(frame(BOMB_FCS_B64));
    expect(fcs.contentSize).toBe(64 * 1024 * 1024);
    expect(fcs.outputBound).toBeGreaterThanOrEqual(64 * 1024 * 1024);
    expect(inspectZstdFrame(frame(BOMB_NO_FCS_B64)).outputBound).toBeGreaterThanOrEqual(
      64 * 1024 * 1024,
    );
  });

  it("refuses every truncation of a frame", () => {
    const whole = frame(WITH_FCS_B64);
    for (let length = 0; length < whole.byteLength; length++) {
      expect(() => inspectZstdFrame(whole.subarray(0, length))).toThrow(FormatError);
    }
  });

  it("refuses a second frame, trailing bytes, a bad magic and the reserved bit", () => {
    const whole = frame(WITH_FCS_B64);
    expect(() => inspectZstdFrame(concat(whole, whole))).toThrow(/after the zstd frame/);
    expect(() => inspectZstdFrame(concat(whole, new Uint8Array([0])))).toThrow(FormatError);
    const badMagic = whole.slice();
    badMagic[0] = 0;
    expect(() => inspectZstdFrame(badMagic)).toThrow(/magic/);
    const reserved = whole.slice();
    reserved[4] = (reserved[4] as number) | 0x08;
    expect(() => inspectZstdFrame(reserved)).toThrow(/reserved/);
  });

  it("refuses a frame that declares more content than its blocks can hold", () => {
    // Single segment, 1-byte content size 200, one last raw block of 3 bytes.
    const lying = new Uint8Array([0x28, 0xb5, 0x2f, 0xfd, 0x20, 200, 0x19, 0, 0, 1, 2, 3]);
    expect(() => inspectZstdFrame(lying)).toThrow(/declares more content/);
    const honest = new Uint8Array([0x28, 0xb5, 0x2f, 0xfd, 0x20, 3, 0x19, 0, 0, 1, 2, 3]);
    expect(inspectZstdFrame(honest)).toEqual({ contentSize: 3, outputBound: 3 });
  });
});

describe("parseZstdFrameHeader, the one parser of zstd frame headers", () => {
  it("reads every field, and waits for the whole header", () => {
    // Single segment, 2-byte content size (5000 - 256), 1-byte dictionary id 7, checksum.
    const header = Uint8Array.of(0x28, 0xb5, 0x2f, 0xfd, 0x65, 7, 0x78, 0x12);
    expect(zstdFrameHeaderLength(header.subarray(0, 4))).toBeUndefined();
    expect(zstdFrameHeaderLength(header.subarray(0, 5))).toBe(8);
    for (let cut = 0; cut < header.byteLength; cut++) {
      expect(parseZstdFrameHeader(header.subarray(0, cut))).toBeUndefined();
    }
    expect(parseZstdFrameHeader(header)).toEqual({
      length: 8,
      checksum: true,
      dictionaryId: 7,
      contentSize: 0x1278 + 256,
      windowSize: 0x1278 + 256,
    });
  });

  it("reads the window of a frame that is not single-segment", () => {
    const header = parseZstdFrameHeader(Uint8Array.of(0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x58));
    expect(header).toEqual({ length: 6, checksum: false, dictionaryId: 0, windowSize: 2 ** 21 });
    expect(header?.contentSize).toBeUndefined();
  });

  it("refuses a bad magic, the reserved bit and a content size past 2^53, in the same words for every reader", () => {
    expect(() => parseZstdFrameHeader(Uint8Array.of(0x28, 0xb5, 0x2f, 0xfe))).toThrow(/bad magic/);
    expect(() => parseZstdFrameHeader(Uint8Array.of(0x28, 0xb5, 0x2f, 0xfd, 0x28, 1))).toThrow(
      "zstd frame is corrupt: a reserved header bit is set",
    );
    const huge = Uint8Array.of(0x28, 0xb5, 0x2f, 0xfd, 0xe0, 0, 0, 0, 0, 0, 0, 0x20, 0);
    expect(() => parseZstdFrameHeader(huge)).toThrow(/content size too large/);
  });

  it("reads block headers", () => {
    expect(parseZstdBlockHeader(Uint8Array.of(0x19, 0, 0))).toEqual({
      last: true,
      type: 0,
      size: 3,
    });
    expect(parseZstdBlockHeader(Uint8Array.of(9, 0xff, 0xff, 0xff), 1)).toEqual({
      last: true,
      type: 3,
      size: 0x1fffff,
    });
  });
});
