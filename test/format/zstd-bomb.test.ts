import { describe, expect, it } from "vitest";
import { fromBase64 } from "../../src/format/base64.js";
import { sha256Hex } from "../../src/format/hex.js";
import { Decompress, decompress } from "../../src/format/vendor/fzstd.js";
import { concatBytes } from "../../src/lib/bytes.js";
import {
  BIG_WINDOW_B64,
  BOMB_FCS_B64,
  BOMB_NO_FCS_B64,
  NO_FCS_B64,
  SAMPLE_SHA256,
  sample,
  WITH_FCS_B64,
} from "../fixtures/zstd-vectors.js";

// Hand-made frames. All start 28b52ffd 00 38: zstd magic, no content size, 128 KiB window.
const CRAFTED = {
  // The CPU bomb (18 bytes): one compressed block, no literals, 98,303 sequences (ff ffff), all
  // three code tables in RLE mode (54): literal length code 0, offset code 2, match length code
  // 52 (a 65,539+ byte match each). Upstream fzstd 0.1.1 copies ~6.4e9 bytes on it (minutes).
  bomb: "KLUv/QA4TQAAAP///1QAAjQB",
  // Raw block "abcd", then 3 sequences with a well-formed bitstream, each a 65,539-byte match:
  // 196,617 bytes, more than the 128 KiB block maximum.
  overflow: "KLUv/QA4IAAAYWJjZG0AAAADVAACNAAAAAAAAEA=",
  // Raw block "abcd", then one sequence with offset 13: farther back than the 4 bytes produced.
  farBack: "KLUv/QA4IAAAYWJjZD0AAAABVAAEABA=",
  // One sequence with literal length 10 in a block whose literals section is empty.
  literals: "KLUv/QA4PQAAAAFUCgAAAQ==",
} as const;

const EIGHT_MIB = 8 * 1024 * 1024;

/** Runs `fn`, returns what it threw (undefined if nothing) and how long it took. */
function timed(fn: () => void): { error: unknown; ms: number } {
  const start = Date.now();
  let error: unknown;
  try {
    fn();
  } catch (e) {
    error = e;
  }
  return { error, ms: Date.now() - start };
}

/** Decodes with the streaming decompressor, fed in pieces of `piece` bytes. */
function streamDecode(frame: Uint8Array, piece = frame.length): Uint8Array {
  const parts: Uint8Array[] = [];
  const stream = new Decompress((data) => {
    parts.push(data.slice());
  });
  if (frame.length === 0) stream.push(frame, true);
  for (let i = 0; i < frame.length; i += piece) {
    stream.push(frame.subarray(i, i + piece), i + piece >= frame.length);
  }
  return concatBytes(parts);
}

describe("vendored fzstd refuses crafted frames quickly", () => {
  for (const [name, b64] of Object.entries(CRAFTED)) {
    const frame = fromBase64(b64);

    it(`decompress refuses ${name} within 1 s`, () => {
      const { error, ms } = timed(() => decompress(frame));
      expect(error).toBeInstanceOf(Error);
      expect(ms).toBeLessThan(1000);
    });

    it(`streaming Decompress refuses ${name} within 1 s`, () => {
      const { error, ms } = timed(() => new Decompress(() => {}).push(frame, true));
      expect(error).toBeInstanceOf(Error);
      expect(ms).toBeLessThan(1000);
    });

    it(`streaming Decompress refuses ${name} fed a byte at a time`, () => {
      const { error, ms } = timed(() => streamDecode(frame, 1));
      expect(error).toBeInstanceOf(Error);
      expect(ms).toBeLessThan(1000);
    });
  }

  it("says why", () => {
    const codeOf = (b64: string) => {
      const { error } = timed(() => decompress(fromBase64(b64)));
      return (error as { code?: number }).code;
    };
    expect(codeOf(CRAFTED.bomb)).toBe(0); // InvalidData
    expect(codeOf(CRAFTED.overflow)).toBe(0); // InvalidData
    expect(codeOf(CRAFTED.farBack)).toBe(4); // DistanceTooFarBack
    expect(codeOf(CRAFTED.literals)).toBe(0); // InvalidData
  });
});

describe("vendored fzstd still decodes valid frames", () => {
  const vectors = { WITH_FCS_B64, NO_FCS_B64, BIG_WINDOW_B64 };
  const want = sample(5000);

  it("sample() still hashes to SAMPLE_SHA256", async () => {
    expect(await sha256Hex(want)).toBe(SAMPLE_SHA256);
  });

  for (const [name, b64] of Object.entries(vectors)) {
    const frame = fromBase64(b64);

    it(`decompress: ${name}`, async () => {
      const out = decompress(frame);
      expect(out).toEqual(want);
      expect(await sha256Hex(out)).toBe(SAMPLE_SHA256);
    });

    for (const piece of [frame.length, 7, 1]) {
      it(`streaming Decompress in ${piece}-byte pieces: ${name}`, async () => {
        const out = streamDecode(frame, piece);
        expect(out).toEqual(want);
        expect(await sha256Hex(out)).toBe(SAMPLE_SHA256);
      });
    }
  }

  for (const [name, b64] of Object.entries({ BOMB_FCS_B64, BOMB_NO_FCS_B64 })) {
    it(`streaming Decompress decodes ${name} (zeros) until the 8 MiB test cap`, () => {
      const frame = fromBase64(b64);
      const stop = new Error("8 MiB cap reached");
      let total = 0;
      let nonZero = 0;
      const stream = new Decompress((data) => {
        for (const byte of data) if (byte !== 0) nonZero++;
        total += data.length;
        if (total > EIGHT_MIB) throw stop;
      });
      const { error } = timed(() => stream.push(frame, true));
      expect(error).toBe(stop);
      expect(total).toBeGreaterThan(EIGHT_MIB);
      expect(nonZero).toBe(0);
    });
  }
});
