import { Deflate, gzipSync } from "fflate";
import { describe, expect, it } from "vitest";
import { fromBase64 } from "../../src/format/base64.js";
import {
  CODECS,
  createFrameDecoder,
  decodeFrame,
  detectCodec,
  gzipFrame,
  isCodec,
} from "../../src/format/codec.js";
import { FormatError } from "../../src/format/errors.js";
import { sha256Hex } from "../../src/format/hex.js";
import { concatBytes } from "../../src/lib/bytes.js";
import { fractions, xorshift32 } from "../../testing/random.mjs";
import {
  BIG_WINDOW_B64,
  BOMB_FCS_B64,
  BOMB_NO_FCS_B64,
  NO_FCS_B64,
  SAMPLE_SHA256,
  sample,
  WITH_FCS_B64,
} from "../fixtures/zstd-vectors.js";

const KIB = 1024;
const MIB = 1024 * KIB;

/** A seeded generator of numbers in [0, 1), for reproducible random piece sizes. */
function random(seed: number): () => number {
  return fractions(xorshift32(seed >>> 0 || 1));
}

/** `parts` one after another (src/lib's concatBytes, spread). */
const cat = (...parts: Uint8Array[]): Uint8Array => concatBytes(parts);

function patched(bytes: Uint8Array, at: number, value: number): Uint8Array {
  const copy = bytes.slice();
  copy[at < 0 ? copy.length + at : at] = value;
  return copy;
}

/** Byte equality without vitest's deep equality, which is very slow on large typed arrays. */
function expectBytes(actual: Uint8Array, expected: Uint8Array): void {
  expect(actual.length).toBe(expected.length);
  expect(actual.findIndex((b, i) => b !== expected[i])).toBe(-1);
}

const PLAIN = sample(5000);
const WITH_FCS = fromBase64(WITH_FCS_B64);
const NO_FCS = fromBase64(NO_FCS_B64);
const BIG_WINDOW = fromBase64(BIG_WINDOW_B64);
const BOMB_FCS = fromBase64(BOMB_FCS_B64);
const BOMB_NO_FCS = fromBase64(BOMB_NO_FCS_B64);
/** `zstd -19 --no-check`: WITH_FCS without the checksum flag and its last 4 bytes (checked with cmp). */
const NO_CHECKSUM = patched(WITH_FCS, 4, 0x60).subarray(0, WITH_FCS.length - 4);
/** `--ultra -22 --long=31` from a pipe: NO_FCS with a 2 GiB window (byte-identical to the CLI's). */
const HUGE_WINDOW = patched(NO_FCS, 5, 0xa8);

/**
 * A frame of four blocks put together here (`zstd -d` reads it): WITH_FCS's compressed block, a
 * raw block, an RLE block of 3000 bytes and an empty last block; no content size or checksum.
 */
function multiBlockZstd(): { frame: Uint8Array; plain: Uint8Array } {
  const block = (last: boolean, type: number, size: number, content: Uint8Array) => {
    const v = (size << 3) | (type << 1) | (last ? 1 : 0);
    return cat(Uint8Array.of(v & 255, (v >> 8) & 255, v >> 16), content);
  };
  const raw = sample(3000).subarray(2000);
  const frame = cat(
    Uint8Array.of(0x28, 0xb5, 0x2f, 0xfd, 0, 0x38),
    block(false, 2, 1558, WITH_FCS.subarray(10, -4)),
    block(false, 0, raw.length, raw),
    block(false, 1, 3000, Uint8Array.of(0x41)),
    block(true, 0, 0, new Uint8Array(0)),
  );
  return { frame, plain: cat(PLAIN, raw, new Uint8Array(3000).fill(0x41)) };
}
const MULTI_BLOCK = multiBlockZstd();

/** Mixed data that compresses to about half: sample text, runs and random bytes. */
function mixed(n: number, seed = 7): Uint8Array {
  const next = random(seed);
  const out = new Uint8Array(n);
  out.set(sample(n));
  for (let at = 0; at < n; at += 4096) {
    const kind = Math.floor(next() * 3);
    for (let i = at; i < Math.min(n, at + 2048); i++)
      out[i] = kind === 0 ? 0 : kind === 1 ? next() * 256 : (out[i] ?? 0);
  }
  return out;
}

let gzipBomb: Uint8Array | undefined;
/**
 * 100 MiB of zeros as one valid gzip frame of about 100 KB (checked with `gzip -t`). A megabyte
 * of zeros deflated after a sync flush decodes the same wherever the window holds zeros, so it is
 * compressed once and repeated: quicker than deflating 100 MiB in every run.
 */
function gzipBombFrame(): Uint8Array {
  if (gzipBomb) return gzipBomb;
  const parts: Uint8Array[] = [];
  const deflate = new Deflate({ level: 6 }, (data) => parts.push(data));
  const zeros = new Uint8Array(MIB);
  const segment = (final: boolean) => {
    deflate.push(final ? new Uint8Array(0) : zeros, final);
    if (!final) deflate.flush(true);
    return cat(...parts.splice(0));
  };
  const [first, each, last] = [segment(false), segment(false), segment(true)];
  const trailer = new Uint8Array(8);
  new DataView(trailer.buffer).setUint32(0, 0x4b282398, true); // CRC-32 of 100 MiB of zeros
  new DataView(trailer.buffer).setUint32(4, 100 * MIB, true);
  const header = Uint8Array.of(0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3);
  gzipBomb = cat(header, first, ...Array<Uint8Array>(99).fill(each), last, trailer);
  return gzipBomb;
}

/** Pipes `frame`, cut into pieces of `sizes()` bytes, through the streaming decoder. */
async function streamDecode(
  frame: Uint8Array,
  maxOutputBytes: number,
  sizes: () => number = () => frame.length,
): Promise<{ output: Uint8Array; piecesRead: number; readBeforeOutput?: number }> {
  let at = 0;
  let piecesRead = 0;
  const source = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (at >= frame.length) return controller.close();
      const n = Math.max(1, sizes());
      controller.enqueue(frame.slice(at, at + n));
      at += n;
      piecesRead++;
    },
  });
  const reader = source.pipeThrough(createFrameDecoder({ maxOutputBytes })).getReader();
  const parts: Uint8Array[] = [];
  let readBeforeOutput: number | undefined;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return { output: cat(...parts), piecesRead, readBeforeOutput };
    readBeforeOutput ??= piecesRead;
    parts.push(value);
  }
}

async function refusal(promise: Promise<unknown>): Promise<FormatError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(FormatError);
  return error as FormatError;
}

/** gzip frame with FEXTRA, FNAME, FCOMMENT and FHCRC, which gzipFrame never writes. */
function gzipWithHeaderFields(data: Uint8Array): Uint8Array {
  const plain = gzipSync(data, { mtime: 0 });
  const text = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
  const head = cat(
    Uint8Array.of(0x1f, 0x8b, 8, 4 | 8 | 16 | 2, 0, 0, 0, 0, 0, 3),
    Uint8Array.of(4, 0),
    text("ab\0d"),
    text("chunk.img\0comment\0"),
  );
  const headCrc = gzipSync(head).subarray(-8, -6);
  return cat(head, headCrc, plain.subarray(10));
}

describe("codec names and magic", () => {
  it("lists and recognises the codecs", () => {
    expect(CODECS).toEqual(["gzip", "zstd"]);
    expect(isCodec("gzip")).toBe(true);
    expect(isCodec("zstd")).toBe(true);
    expect(isCodec("xz")).toBe(false);
    expect(isCodec(undefined)).toBe(false);
  });

  it("detects a codec from the first bytes", () => {
    expect(detectCodec(gzipFrame(PLAIN))).toBe("gzip");
    expect(detectCodec(Uint8Array.of(0x1f, 0x8b))).toBe("gzip");
    expect(detectCodec(WITH_FCS)).toBe("zstd");
    expect(detectCodec(WITH_FCS.subarray(0, 4))).toBe("zstd");
    expect(detectCodec(WITH_FCS.subarray(0, 3))).toBeUndefined();
    expect(detectCodec(Uint8Array.of(0x1f))).toBeUndefined();
    expect(detectCodec(new Uint8Array(0))).toBeUndefined();
    expect(detectCodec(Uint8Array.of(0x50, 0x4b, 3, 4))).toBeUndefined();
  });
});

describe("gzipFrame", () => {
  it("writes the same bytes for the same input, with mtime 0", () => {
    const a = gzipFrame(PLAIN);
    expectBytes(gzipFrame(PLAIN), a);
    expect(Array.from(a.subarray(0, 10))).toEqual([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]);
    expect(gzipFrame(PLAIN, 9).length).toBeLessThanOrEqual(gzipFrame(PLAIN, 1).length);
  });

  it("refuses a level outside 0-9", () => {
    expect(() => gzipFrame(PLAIN, 10)).toThrow(RangeError);
    expect(() => gzipFrame(PLAIN, 1.5)).toThrow(RangeError);
  });
});

describe("decodeFrame, gzip", () => {
  const limit = 8 * MIB;

  it("round-trips empty, tiny, text and mixed data at every level", async () => {
    for (const data of [new Uint8Array(0), Uint8Array.of(42), PLAIN, mixed(300 * KIB)]) {
      for (const level of [0, 1, 6, 9]) {
        expectBytes(await decodeFrame(gzipFrame(data, level), { maxOutputBytes: limit }), data);
      }
    }
  });

  it("reads the optional header fields and checks the header CRC", async () => {
    const frame = gzipWithHeaderFields(PLAIN);
    expectBytes(await decodeFrame(frame, { maxOutputBytes: limit }), PLAIN);
    const badCrc = patched(frame, 31, (frame[31] ?? 0) ^ 1);
    expect((await refusal(decodeFrame(badCrc, { maxOutputBytes: limit }))).message).toMatch(
      /header CRC/,
    );
  });

  it("refuses a frame truncated in its header, data or trailer", async () => {
    const frame = gzipFrame(PLAIN);
    const cases: [number, RegExp][] = [
      [1, /truncated: it ends inside its magic/],
      [5, /truncated: it ends inside its header/],
      [9, /header/],
      [10, /inside its data/],
      [200, /inside its data/],
      [frame.length - 8, /inside its trailer/],
      [frame.length - 1, /inside its trailer/],
    ];
    for (const [cut, message] of cases) {
      const error = await refusal(decodeFrame(frame.subarray(0, cut), { maxOutputBytes: limit }));
      expect(error.message).toMatch(message);
    }
  });

  it("refuses a header longer than 4096 bytes", async () => {
    const name = new Uint8Array(5000).fill(0x61);
    const frame = cat(Uint8Array.of(0x1f, 0x8b, 8, 8, 0, 0, 0, 0, 0, 3), name, Uint8Array.of(0));
    const error = await refusal(
      decodeFrame(cat(frame, gzipFrame(PLAIN).subarray(10)), { maxOutputBytes: limit }),
    );
    expect(error.message).toBe("gzip header is longer than 4096 bytes");
  });

  it("refuses empty input and an unknown format", async () => {
    expect((await refusal(decodeFrame(new Uint8Array(0), { maxOutputBytes: limit }))).message).toBe(
      "frame is empty",
    );
    const zip = Uint8Array.of(0x50, 0x4b, 3, 4, 20, 0);
    expect((await refusal(decodeFrame(zip, { maxOutputBytes: limit }))).message).toBe(
      "unknown frame format: expected gzip (1f 8b) or zstd (28 b5 2f fd), got 50 4b 03 04",
    );
  });

  it("refuses a flipped byte in the data, the CRC or the length", async () => {
    const frame = gzipFrame(PLAIN);
    const data = patched(frame, 400, (frame[400] ?? 0) ^ 0x10);
    await refusal(decodeFrame(data, { maxOutputBytes: limit }));
    const crc = patched(frame, -7, (frame.at(-7) ?? 0) ^ 1);
    expect((await refusal(decodeFrame(crc, { maxOutputBytes: limit }))).message).toMatch(/CRC-32/);
    const size = patched(frame, -4, (frame.at(-4) ?? 0) ^ 1);
    expect((await refusal(decodeFrame(size, { maxOutputBytes: limit }))).message).toMatch(
      /decompresses to 5000 bytes, its trailer says 5001/,
    );
    const flags = patched(frame, 3, 0x20);
    expect((await refusal(decodeFrame(flags, { maxOutputBytes: limit }))).message).toMatch(
      /reserved flags/,
    );
    const method = patched(frame, 2, 7);
    expect((await refusal(decodeFrame(method, { maxOutputBytes: limit }))).message).toMatch(
      /method 7/,
    );
  });

  it("refuses bytes after the frame, and a second member", async () => {
    const frame = gzipFrame(PLAIN);
    for (const n of [1, 3, 12]) {
      const error = await refusal(
        decodeFrame(cat(frame, new Uint8Array(n)), { maxOutputBytes: limit }),
      );
      expect(error.message).toBe(`frame has ${n} bytes after the end of the compressed data`);
    }
    const two = await refusal(decodeFrame(cat(frame, frame), { maxOutputBytes: limit }));
    expect(two.message).toMatch(/second gzip member/);
  });

  it("accepts output of exactly the limit and refuses one byte more", async () => {
    const frame = gzipFrame(PLAIN);
    expectBytes(await decodeFrame(frame, { maxOutputBytes: 5000 }), PLAIN);
    const error = await refusal(decodeFrame(frame, { maxOutputBytes: 4999 }));
    expect(error.message).toBe("frame decompresses to more than 4999 bytes (the limit)");
    const empty = gzipFrame(new Uint8Array(0));
    expectBytes(await decodeFrame(empty, { maxOutputBytes: 0 }), new Uint8Array(0));
  });

  it("refuses a 100 MiB bomb while decoding", async () => {
    const bomb = gzipBombFrame();
    expect(bomb.length).toBeLessThan(200 * KIB);
    const error = await refusal(decodeFrame(bomb, { maxOutputBytes: 8 * MIB }));
    expect(error.message).toBe(`frame decompresses to more than ${8 * MIB} bytes (the limit)`);
  }, 30_000);

  it("refuses a bad limit", async () => {
    await expect(decodeFrame(gzipFrame(PLAIN), { maxOutputBytes: -1 })).rejects.toThrow(RangeError);
    expect(() => createFrameDecoder({ maxOutputBytes: Number.NaN })).toThrow(RangeError);
  });
});

describe("decodeFrame, zstd", () => {
  const limit = 8 * MIB;

  it("decodes several blocks of every kind, and a frame that is a view into a larger buffer", async () => {
    expectBytes(await decodeFrame(MULTI_BLOCK.frame, { maxOutputBytes: limit }), MULTI_BLOCK.plain);
    const view = cat(new Uint8Array(7), WITH_FCS, new Uint8Array(5)).subarray(
      7,
      7 + WITH_FCS.length,
    );
    expectBytes(await decodeFrame(view, { maxOutputBytes: limit }), PLAIN);
  });

  it("decodes frames with and without content size, checksum and a small window", async () => {
    for (const frame of [WITH_FCS, NO_FCS, NO_CHECKSUM, BIG_WINDOW, HUGE_WINDOW]) {
      const output = await decodeFrame(frame, { maxOutputBytes: limit });
      expectBytes(output, PLAIN);
      expect(await sha256Hex(output)).toBe(SAMPLE_SHA256);
    }
  });

  it("refuses a frame truncated anywhere", async () => {
    const cases: [number, RegExp][] = [
      [3, /ends inside its magic/],
      [5, /zstd frame is truncated: it ends inside its header/],
      [6, /inside its header/],
      [8, /inside its block header/],
      [500, /inside its block$/],
      [WITH_FCS.length - 4, /inside its checksum/],
      [WITH_FCS.length - 1, /inside its checksum/],
    ];
    for (const [cut, message] of cases) {
      const error = await refusal(
        decodeFrame(WITH_FCS.subarray(0, cut), { maxOutputBytes: limit }),
      );
      expect(error.message).toMatch(message);
    }
    const noChecksum = await refusal(
      decodeFrame(NO_CHECKSUM.subarray(0, -1), { maxOutputBytes: limit }),
    );
    expect(noChecksum.message).toMatch(/inside its block/);
  });

  it("refuses bytes after the frame, and a second frame", async () => {
    for (const n of [1, 3, 12]) {
      const error = await refusal(
        decodeFrame(cat(WITH_FCS, new Uint8Array(n)), { maxOutputBytes: limit }),
      );
      expect(error.message).toBe(`frame has ${n} bytes after the end of the compressed data`);
    }
    const two = await refusal(decodeFrame(cat(NO_FCS, WITH_FCS), { maxOutputBytes: limit }));
    expect(two.message).toMatch(/second zstd frame/);
  });

  it("refuses corrupt headers and blocks", async () => {
    const cases: [Uint8Array, RegExp][] = [
      [patched(WITH_FCS, 4, 0x64 | 8), /reserved header bit/],
      [cat(WITH_FCS.subarray(0, 4), Uint8Array.of(0x65, 7), WITH_FCS.subarray(5)), /dictionary/],
      [patched(WITH_FCS, 7, (WITH_FCS[7] ?? 0) | 6), /reserved type 3/],
      [patched(WITH_FCS, 9, 0xff), /block of \d+ bytes is over its maximum, 5000 bytes/],
      [patched(WITH_FCS, 5, 0x89), /decompresses to 5000 bytes, its header says 5001/],
      [patched(WITH_FCS, 5, 0x87), /block decompresses to more than its maximum, 4999 bytes/],
      [
        cat(
          Uint8Array.of(0x28, 0xb5, 0x2f, 0xfd, 0x40, 0x38, 0x70, 0x16),
          MULTI_BLOCK.frame.subarray(6),
        ),
        /decompresses to more than the 6000 bytes it says/,
      ],
    ];
    for (const [frame, message] of cases) {
      expect((await refusal(decodeFrame(frame, { maxOutputBytes: limit }))).message).toMatch(
        message,
      );
    }
  });

  it("accepts output of exactly the limit and refuses one byte more", async () => {
    expectBytes(await decodeFrame(NO_FCS, { maxOutputBytes: 5000 }), PLAIN);
    const error = await refusal(decodeFrame(NO_FCS, { maxOutputBytes: 4999 }));
    expect(error.message).toBe("frame decompresses to more than 4999 bytes (the limit)");
    const byHeader = await refusal(decodeFrame(WITH_FCS, { maxOutputBytes: 4999 }));
    expect(byHeader.message).toBe(
      "zstd frame header says it decompresses to 5000 bytes, more than 4999 (the limit)",
    );
  });

  it("refuses 64 MiB bombs, by header and while decoding", async () => {
    const byHeader = await refusal(decodeFrame(BOMB_FCS, { maxOutputBytes: limit }));
    expect(byHeader.message).toBe(
      `zstd frame header says it decompresses to ${64 * MIB} bytes, more than ${limit} (the limit)`,
    );
    const whileDecoding = await refusal(decodeFrame(BOMB_NO_FCS, { maxOutputBytes: limit }));
    expect(whileDecoding.message).toBe(
      `frame decompresses to more than ${limit} bytes (the limit)`,
    );
  });
});

describe("createFrameDecoder", () => {
  const limit = 8 * MIB;
  const frames: [string, Uint8Array, Uint8Array][] = [
    ["gzip", gzipFrame(PLAIN), PLAIN],
    ["gzip with header fields", gzipWithHeaderFields(PLAIN), PLAIN],
    ["gzip of mixed data", gzipFrame(mixed(300 * KIB)), mixed(300 * KIB)],
    ["zstd with content size", WITH_FCS, PLAIN],
    ["zstd without content size", NO_FCS, PLAIN],
    ["zstd without checksum", NO_CHECKSUM, PLAIN],
    ["zstd with a 128 MiB window", BIG_WINDOW, PLAIN],
    ["zstd of several blocks", MULTI_BLOCK.frame, MULTI_BLOCK.plain],
  ];

  for (const [name, frame, expected] of frames) {
    it(`decodes ${name} cut into 1-byte, random and whole pieces`, async () => {
      expectBytes((await streamDecode(frame, limit, () => 1)).output, expected);
      for (const seed of [1, 2, 3]) {
        const next = random(seed);
        const sizes = () => Math.floor(next() ** 3 * 20_000);
        expectBytes((await streamDecode(frame, limit, sizes)).output, expected);
      }
      expectBytes((await streamDecode(frame, limit)).output, expected);
    });

    it(`errors on ${name} truncated at the end of the stream`, async () => {
      for (const cut of [1, 4, 11, Math.floor(frame.length / 2), frame.length - 1]) {
        const error = await refusal(streamDecode(frame.subarray(0, cut), limit, () => 3));
        expect(error.message).toMatch(/truncated/);
      }
    });
  }

  it("errors on bytes after the frame, an unknown format and empty input", async () => {
    const trailing = await refusal(streamDecode(cat(WITH_FCS, new Uint8Array(12)), limit, () => 1));
    expect(trailing.message).toMatch(
      /^frame has at least \d+ bytes after the end of the compressed data$/,
    );
    const second = await refusal(
      streamDecode(cat(gzipFrame(PLAIN), gzipFrame(PLAIN)), limit, () => 64),
    );
    expect(second.message).toMatch(/bytes after the end|second gzip member/);
    const unknown = await refusal(
      streamDecode(Uint8Array.of(0x28, 0xb5, 0x2f, 0xfe, 1), limit, () => 1),
    );
    expect(unknown.message).toMatch(/unknown frame format.*got 28 b5 2f fe/);
    expect((await refusal(streamDecode(new Uint8Array(0), limit))).message).toBe("frame is empty");
  });

  it("stops a bomb early, long before reading all of its input", async () => {
    const gzip = await refusal(streamDecode(gzipBombFrame(), MIB, () => KIB).then(() => undefined));
    expect(gzip.message).toBe(`frame decompresses to more than ${MIB} bytes (the limit)`);
    let pieces = 0;
    await refusal(
      streamDecode(gzipBombFrame(), MIB, () => {
        pieces++;
        return KIB;
      }),
    );
    expect(pieces).toBeLessThan(10); // of about 100
    const zstd = await refusal(streamDecode(BOMB_NO_FCS, MIB, () => 64));
    expect(zstd.message).toBe(`frame decompresses to more than ${MIB} bytes (the limit)`);
  }, 30_000);

  it("produces output while the input is still arriving", async () => {
    const data = mixed(1 * MIB, 3);
    const result = await streamDecode(gzipFrame(data), limit, () => 4 * KIB);
    expectBytes(result.output, data);
    expect(result.piecesRead).toBeGreaterThan(50);
    expect(result.readBeforeOutput).toBeLessThan(5);
  });
});
