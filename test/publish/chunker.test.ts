import { describe, expect, it } from "vitest";
import { FormatError } from "../../src/format/errors.js";
import type { Chunking } from "../../src/format/manifest.js";
import { sha256HexNative as sha } from "../../src/lib/sha256-native.js";
import {
  chunkBuffer,
  chunkStream,
  DEFAULT_CHUNKING,
  parseChunkingSpec,
} from "../../src/publish/chunker.js";
import { mulberry32 } from "../../testing/random.mjs";

const KiB = 1024;
const MiB = 1024 * 1024;

/** mulberry32: a small seeded PRNG, so every run sees the same "random" data. */
const rng = mulberry32;

function randomBytes(length: number, seed: number): Buffer {
  const next = rng(seed);
  const words = new Uint32Array(Math.ceil(length / 4));
  for (let i = 0; i < words.length; i++) words[i] = next();
  return Buffer.from(words.buffer, 0, length);
}

/** Yields `data` in pieces of random sizes from 1 to `largest` (often exactly 1, sometimes 0). */
async function* randomPieces(data: Uint8Array, seed: number, largest = 200 * KiB) {
  const next = rng(seed);
  for (let at = 0; at < data.length; ) {
    const roll = next() % 10;
    const size = roll === 0 ? 1 : roll === 1 ? 0 : 1 + (next() % largest);
    yield data.subarray(at, at + size);
    at += size;
  }
}

async function* fixedPieces(data: Uint8Array, size: number) {
  for (let at = 0; at < data.length; at += size) yield data.subarray(at, at + size);
}

async function collect(source: AsyncIterable<Uint8Array>, chunking: Chunking): Promise<Buffer[]> {
  const chunks: Buffer[] = [];
  for await (const chunk of chunkStream(source, chunking)) chunks.push(chunk);
  return chunks;
}

const lengthsOf = (chunks: Buffer[]) => chunks.map((chunk) => chunk.length);

describe("parseChunkingSpec", () => {
  it("reads fixed and cdc specs with K and M suffixes in any case, or plain bytes", () => {
    expect(parseChunkingSpec("fixed:256K")).toEqual({ kind: "fixed", size: 262144 });
    expect(parseChunkingSpec("fixed:262144")).toEqual({ kind: "fixed", size: 262144 });
    expect(parseChunkingSpec("fixed:1M")).toEqual({ kind: "fixed", size: MiB });
    expect(parseChunkingSpec("fixed:1m")).toEqual({ kind: "fixed", size: MiB });
    expect(parseChunkingSpec("fixed:8M")).toEqual({ kind: "fixed", size: 8 * MiB });
    expect(parseChunkingSpec("fixed:1k")).toEqual({ kind: "fixed", size: KiB });
    const cdc = { kind: "cdc", min: 16 * KiB, avg: 64 * KiB, max: 256 * KiB };
    expect(parseChunkingSpec("cdc:16K/64K/256K")).toEqual(cdc);
    expect(parseChunkingSpec("cdc:16k/65536/256K")).toEqual(cdc);
    expect(parseChunkingSpec("cdc:65536/262144/1048576")).toEqual({
      kind: "cdc",
      min: 65536,
      avg: 262144,
      max: MiB,
    });
    expect(parseChunkingSpec("cdc:64K/64K/64K")).toEqual({
      kind: "cdc",
      min: 65536,
      avg: 65536,
      max: 65536,
    });
  });

  it("names the accepted forms when the spec does not parse", () => {
    for (const spec of [
      "",
      "fixed",
      "fixed:",
      "fixed:256KB",
      "fixed:256KiB",
      "fixed:1.5M",
      "fixed:-4096",
      " fixed:256K",
      "fixed:256K ",
      "cdc:64K",
      "cdc:16K/64K",
      "cdc:16K/64K/256K/1M",
      "rabin:16K/64K/256K",
    ]) {
      expect(() => parseChunkingSpec(spec)).toThrow(
        new FormatError(
          `bad chunking "${spec}": expected fixed:SIZE, cdc:MIN/AVG/MAX or casync:MIN/AVG/MAX, e.g. fixed:256K or cdc:16K/64K/256K`,
          "chunking",
        ),
      );
    }
  });

  it("refuses sizes below 1K or above MAX_CHUNK_BYTES, naming which size", () => {
    const range = "sizes must be whole numbers of bytes from 1K (1024 bytes) to 8M (8388608 bytes)";
    const cases: [string, string][] = [
      ["fixed:0", "SIZE is 0 bytes"],
      ["fixed:1023", "SIZE is 1023 bytes"],
      ["fixed:9M", "SIZE is 9437184 bytes"],
      ["fixed:99999999999999999999", "SIZE is 100000000000000000000 bytes"],
      ["cdc:512/64K/256K", "MIN is 512 bytes"],
      ["cdc:16K/64K/16M", "MAX is 16777216 bytes"],
    ];
    for (const [spec, what] of cases) {
      expect(() => parseChunkingSpec(spec)).toThrow(
        new FormatError(`bad chunking "${spec}": ${what}; ${range}`, "chunking"),
      );
    }
  });

  it("refuses cdc sizes out of order or with an AVG that is not a power of two", () => {
    expect(() => parseChunkingSpec("cdc:64K/16K/256K")).toThrow(
      'bad chunking "cdc:64K/16K/256K": cdc needs MIN <= AVG <= MAX; got 64K/16K/256K',
    );
    expect(() => parseChunkingSpec("cdc:16K/64K/32K")).toThrow("MIN <= AVG <= MAX");
    expect(() => parseChunkingSpec("cdc:16K/96K/256K")).toThrow(
      'bad chunking "cdc:16K/96K/256K": cdc AVG must be a power of two (FastCDC\'s masks need it), e.g. 16K, 64K or 1M; got 98304',
    );
    expect(() => parseChunkingSpec("cdc:16K/100000/256K")).toThrow(FormatError);
  });

  it("has a fixed 256 KiB default", () => {
    expect(DEFAULT_CHUNKING).toEqual({ kind: "fixed", size: 262144 });
  });
});

describe("chunking objects", () => {
  it("are checked before any reading, as specs are", async () => {
    const bad: Chunking = { kind: "cdc", min: 4096, avg: 12288, max: 65536 };
    expect(() => chunkBuffer(new Uint8Array(10), bad)).toThrow(FormatError);
    expect(() => chunkStream(fixedPieces(new Uint8Array(10), 1), bad)).toThrow(/power of two/);
    expect(() => chunkBuffer(new Uint8Array(10), { kind: "fixed", size: 100 })).toThrow(
      /SIZE is 100 bytes/,
    );
  });
});

describe("fixed chunking", () => {
  const chunking: Chunking = { kind: "fixed", size: 4096 };

  it("cuts chunks of exactly SIZE and a shorter last one", async () => {
    const data = randomBytes(10_000, 1);
    expect(chunkBuffer(data, chunking)).toEqual([4096, 4096, 1808]);
    const chunks = await collect(randomPieces(data, 2, 5000), chunking);
    expect(lengthsOf(chunks)).toEqual([4096, 4096, 1808]);
    expect(Buffer.concat(chunks).equals(data)).toBe(true);
  });

  it("cuts an exact multiple of SIZE into full chunks only", async () => {
    const data = randomBytes(3 * 4096, 3);
    expect(chunkBuffer(data, chunking)).toEqual([4096, 4096, 4096]);
    expect(lengthsOf(await collect(fixedPieces(data, 4096), chunking))).toEqual([4096, 4096, 4096]);
    expect(lengthsOf(await collect(fixedPieces(data, 1), chunking))).toEqual([4096, 4096, 4096]);
  });

  it("yields nothing for an empty image and one chunk for one byte", async () => {
    expect(chunkBuffer(new Uint8Array(0), chunking)).toEqual([]);
    expect(await collect(fixedPieces(new Uint8Array(0), 1), chunking)).toEqual([]);
    expect(await collect(randomPieces(new Uint8Array(0), 1), chunking)).toEqual([]);
    expect(chunkBuffer(new Uint8Array([7]), chunking)).toEqual([1]);
    const chunks = await collect(fixedPieces(new Uint8Array([7]), 1), chunking);
    expect(chunks.map((chunk) => [...chunk])).toEqual([[7]]);
  });

  it("reassembles to the input from pieces of any sizes", async () => {
    const data = randomBytes(MiB + 12_345, 4);
    for (const seed of [5, 6, 7]) {
      const chunks = await collect(randomPieces(data, seed, 20_000), DEFAULT_CHUNKING);
      expect(lengthsOf(chunks)).toEqual(chunkBuffer(data, DEFAULT_CHUNKING));
      expect(Buffer.concat(chunks).equals(data)).toBe(true);
    }
  });
});

describe("CDC chunking", () => {
  const small = parseChunkingSpec("cdc:4K/16K/64K");

  it("cuts chunks from MIN to MAX bytes, except a shorter last one, and reassembles", async () => {
    const data = randomBytes(4 * MiB + 777, 10);
    const chunks = await collect(randomPieces(data, 11), small);
    const lengths = lengthsOf(chunks);
    for (const length of lengths.slice(0, -1)) {
      expect(length).toBeGreaterThan(4 * KiB);
      expect(length).toBeLessThanOrEqual(64 * KiB);
    }
    expect(lengths.at(-1)).toBeLessThanOrEqual(64 * KiB);
    expect(Buffer.concat(chunks).equals(data)).toBe(true);
    expect(lengths).toEqual(chunkBuffer(data, small));
  });

  it("handles MIN = AVG and MIN = AVG = MAX", async () => {
    const data = randomBytes(200_000, 19);
    const flat = parseChunkingSpec("cdc:8K/8K/8K");
    expect(chunkBuffer(data, flat)).toEqual([...Array(24).fill(8192), 3392]);
    expect(lengthsOf(await collect(randomPieces(data, 20, 5000), flat))).toEqual(
      chunkBuffer(data, flat),
    );
    const steep = parseChunkingSpec("cdc:4K/4K/16K");
    const lengths = chunkBuffer(data, steep);
    expect(lengths.slice(0, -1).every((n) => n > 4096 && n <= 16384)).toBe(true);
    expect(lengthsOf(await collect(randomPieces(data, 21, 5000), steep))).toEqual(lengths);
  });

  it("cuts the same whatever the input piece sizes", async () => {
    const chunking = parseChunkingSpec("cdc:1K/4K/16K");
    const data = randomBytes(256 * KiB, 12);
    const whole = chunkBuffer(data, chunking);
    expect(whole.length).toBeGreaterThan(40);
    expect(lengthsOf(await collect(fixedPieces(data, 1), chunking))).toEqual(whole);
    expect(lengthsOf(await collect(fixedPieces(data, data.length), chunking))).toEqual(whole);
    for (const seed of [13, 14, 15]) {
      expect(lengthsOf(await collect(randomPieces(data, seed, 9000), chunking))).toEqual(whole);
    }
  });

  it("averages about AVG on random data", () => {
    for (const [spec, size] of [
      ["cdc:4K/16K/64K", 8 * MiB],
      ["cdc:16K/64K/256K", 24 * MiB],
    ] as const) {
      const chunking = parseChunkingSpec(spec);
      const lengths = chunkBuffer(randomBytes(size, 16), chunking);
      const mean = size / lengths.length;
      const avg = chunking.kind === "cdc" ? chunking.avg : 0;
      expect(mean).toBeGreaterThan(avg * 0.75);
      expect(mean).toBeLessThan(avg * 1.25);
    }
  });

  it("keeps the chunks after an insertion near the start (shift resistance)", async () => {
    const chunking = parseChunkingSpec("cdc:16K/64K/256K");
    const original = randomBytes(8 * MiB, 17);
    const shifted = Buffer.concat([
      original.subarray(0, 5000),
      randomBytes(100, 18),
      original.subarray(5000),
    ]);
    const reused = async (chunks: Chunking) => {
      const before = new Set((await collect(fixedPieces(original, 65536), chunks)).map(sha));
      const after = (await collect(fixedPieces(shifted, 65536), chunks)).slice(3);
      return after.filter((chunk) => before.has(sha(chunk))).length / after.length;
    };
    expect(await reused(chunking)).toBeGreaterThan(0.9);
    expect(await reused({ kind: "fixed", size: 65536 })).toBeLessThan(0.1);
  });

  it("cuts a fixed input at the same places as ever (the boundaries are part of the format)", () => {
    const lengths = chunkBuffer(randomBytes(MiB, 42), parseChunkingSpec("cdc:1K/4K/16K"));
    expect(lengths.slice(0, 10)).toEqual([
      5114, 4499, 3649, 4563, 5246, 5216, 4155, 5191, 5161, 4015,
    ]);
    expect(lengths.length).toBe(221);
    const big = chunkBuffer(randomBytes(4 * MiB, 43), parseChunkingSpec("cdc:16K/64K/256K"));
    expect(big.slice(0, 6)).toEqual([73176, 78338, 85721, 74483, 86764, 66690]);
    expect(big.length).toBe(57);
  });

  it("cuts runs of zero bytes at MAX, for every AVG", () => {
    const zeros = new Uint8Array(2 * 8 * MiB + 1000);
    for (let avg = KiB; avg <= 8 * MiB; avg *= 2) {
      const max = Math.min(4 * avg, 8 * MiB);
      const chunking: Chunking = { kind: "cdc", min: Math.max(KiB, avg / 4), avg, max };
      expect(chunkBuffer(zeros.subarray(0, 2 * max + 1000), chunking)).toEqual([max, max, 1000]);
    }
  });

  it("cuts zeros after other data into MAX chunks once the first chunk ends", async () => {
    const data = Buffer.concat([randomBytes(10_000, 44), new Uint8Array(MiB)]);
    const chunking = parseChunkingSpec("cdc:16K/64K/256K");
    const lengths = lengthsOf(await collect(randomPieces(data, 45), chunking));
    expect(lengths.slice(1, -1).every((length) => length === 256 * KiB)).toBe(true);
    expect(lengths).toEqual(chunkBuffer(data, chunking));
  });
});

describe("chunkStream buffers", () => {
  for (const chunking of [parseChunkingSpec("fixed:64K"), parseChunkingSpec("cdc:4K/16K/64K")]) {
    it(`${chunking.kind}: each chunk owns its ArrayBuffer and survives a source that reuses its buffer`, async () => {
      const data = randomBytes(MiB + 3, 50);
      async function* reusing() {
        const scratch = new Uint8Array(10_000);
        for (let at = 0; at < data.length; at += scratch.length) {
          const piece = data.subarray(at, at + scratch.length);
          scratch.set(piece);
          yield scratch.subarray(0, piece.length);
        }
      }
      const chunks = await collect(reusing(), chunking);
      expect(Buffer.concat(chunks).equals(data)).toBe(true);
      for (const chunk of chunks) {
        expect(chunk.byteOffset).toBe(0);
        expect(chunk.buffer.byteLength).toBe(chunk.length);
      }
      expect(new Set(chunks.map((chunk) => chunk.buffer)).size).toBe(chunks.length);
    });

    it(`${chunking.kind}: reads no more than it needs for the chunks taken`, async () => {
      let read = 0;
      async function* endless() {
        for (let seed = 0; ; seed++) {
          read += 65536;
          yield randomBytes(65536, seed);
        }
      }
      let taken = 0;
      let count = 0;
      for await (const chunk of chunkStream(endless(), chunking)) {
        taken += chunk.length;
        if (++count === 5) break;
      }
      expect(read).toBeLessThanOrEqual(taken + 65536);
    });
  }
});
