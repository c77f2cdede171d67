import { describe, expect, it } from "vitest";
import { FormatError, FormatSyntaxError } from "../../src/format/errors.js";
import { sha256Hex, toHex } from "../../src/format/hex.js";
import {
  MAX_CHUNK_BYTES,
  MAX_MANIFEST_BYTES,
  MAX_MANIFEST_CHUNKS,
} from "../../src/format/limits.js";
import {
  type Chunking,
  chunkAt,
  chunkOffsets,
  decodeManifest,
  encodeManifest,
  formatChunking,
  MANIFEST_VERSION,
  type Manifest,
  manifestId,
  validateManifest,
} from "../../src/format/manifest.js";

const KiB = 1024;
const CREATED = "2026-11-26T11:00:00.000Z";
const EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/** Small deterministic PRNG (mulberry32), so failures reproduce. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `n` distinct, well-formed chunk ids (the index in the last 8 hex digits). */
function ids(n: number, prefix = "c"): string[] {
  const base = prefix.repeat(56);
  return Array.from({ length: n }, (_, i) => base + i.toString(16).padStart(8, "0"));
}

function randomId(): string {
  return toHex(crypto.getRandomValues(new Uint8Array(32)));
}

/** A fixed-chunking manifest of `size` bytes cut at `chunkSize`. */
function fixedManifest(size: number, chunkSize: number, extra: Partial<Manifest> = {}): Manifest {
  const lengths: number[] = [];
  for (let left = size; left > 0; left -= chunkSize) lengths.push(Math.min(chunkSize, left));
  return {
    version: MANIFEST_VERSION,
    size,
    sha256: "a".repeat(64),
    chunking: { kind: "fixed", size: chunkSize },
    codec: "zstd",
    created: CREATED,
    chunks: ids(lengths.length),
    lengths,
    ...extra,
  };
}

/** A cdc manifest with the given chunk lengths. */
function cdcManifest(lengths: number[], extra: Partial<Manifest> = {}): Manifest {
  return {
    version: MANIFEST_VERSION,
    size: lengths.reduce((a, b) => a + b, 0),
    sha256: "b".repeat(64),
    chunking: { kind: "cdc", min: 16 * KiB, avg: 64 * KiB, max: 256 * KiB },
    codec: "gzip",
    created: CREATED,
    chunks: ids(lengths.length, "d"),
    lengths,
    ...extra,
  };
}

/** The raw JSON document of `manifest`, as a plain object to tamper with. */
function docOf(manifest: Manifest): Record<string, unknown> {
  return JSON.parse(new TextDecoder().decode(encodeManifest(manifest))) as Record<string, unknown>;
}

function bytesOf(doc: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(doc));
}

/** Decodes `bytes`, expecting a FormatError; returns it. */
function decodeError(bytes: Uint8Array): FormatError {
  try {
    decodeManifest(bytes);
  } catch (error) {
    expect(error).toBeInstanceOf(FormatError);
    return error as FormatError;
  }
  throw new Error("expected decodeManifest to throw a FormatError");
}

/** Tampers with a valid document and expects decoding to fail with `message` (and `field`). */
function expectInvalid(
  change: (doc: Record<string, unknown>) => void,
  message: RegExp,
  field?: string,
  base: Manifest = fixedManifest(10 * KiB, 4 * KiB),
): FormatError {
  const doc = docOf(base);
  change(doc);
  const error = decodeError(bytesOf(doc));
  expect(error).not.toBeInstanceOf(FormatSyntaxError);
  expect(error.message).toMatch(message);
  if (field !== undefined) expect(error.field).toBe(field);
  return error;
}

describe("encode and decode", () => {
  const cases: [string, Manifest][] = [
    ["fixed", fixedManifest(10 * KiB, 4 * KiB)],
    ["fixed, exact multiple", fixedManifest(12 * KiB, 4 * KiB)],
    ["fixed with prefetch", fixedManifest(10 * KiB, 4 * KiB, { prefetch: [2, 0, 1] })],
    ["cdc", cdcManifest([20_000, 70_000, 16_384, 262_144, 5])],
    ["cdc with prefetch", cdcManifest([20_000, 70_000, 16_384], { prefetch: [1] })],
    ["cdc with an empty prefetch", cdcManifest([20_000], { prefetch: [] })],
    [
      "casync",
      {
        ...cdcManifest([20_000, 70_000, 5]),
        chunking: { kind: "casync", min: 16 * KiB, avg: 48 * KiB, max: 256 * KiB },
      },
    ],
    [
      "empty image",
      {
        version: 1,
        size: 0,
        sha256: EMPTY_SHA256,
        chunking: { kind: "fixed", size: 256 * KiB },
        codec: "zstd",
        created: CREATED,
        chunks: [],
        lengths: [],
      },
    ],
    ["empty cdc image", cdcManifest([])],
  ];

  it.each(cases)("round-trips %s", async (_label, manifest) => {
    const bytes = encodeManifest(manifest);
    const decoded = decodeManifest(bytes);
    expect(decoded).toEqual(manifest);
    expect(encodeManifest(decoded)).toEqual(bytes);
    expect(await manifestId(encodeManifest(decoded))).toBe(await manifestId(bytes));
  });

  it("writes the documented canonical JSON", () => {
    const manifest = fixedManifest(10, 4, { chunks: ids(3), prefetch: [2] });
    const text = new TextDecoder().decode(encodeManifest(manifest));
    expect(text).toBe(
      `{"format":"edgeboot-manifest","version":1,"size":10,"sha256":"${"a".repeat(64)}",` +
        `"chunking":{"kind":"fixed","size":4},"codec":"zstd","created":"${CREATED}",` +
        `"lengths":[[4,2],[2,1]],"chunks":${JSON.stringify(ids(3))},"prefetch":[2]}`,
    );
  });

  it("manifestId is the SHA-256 of the bytes", async () => {
    const bytes = encodeManifest(fixedManifest(10 * KiB, 4 * KiB));
    const id = await manifestId(bytes);
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    expect(id).toBe(await sha256Hex(bytes));
    expect(await manifestId(new Uint8Array(0))).toBe(EMPTY_SHA256);
  });

  it("validateManifest accepts the parsed document", () => {
    const manifest = cdcManifest([1000, 2000], { prefetch: [1, 0] });
    expect(validateManifest(docOf(manifest))).toEqual(manifest);
  });
});

describe("canonical form", () => {
  it("gives the same bytes and id whatever the key insertion order", async () => {
    const chunks = ids(3);
    const a: Manifest = {
      version: 1,
      size: 70_000,
      sha256: "a".repeat(64),
      chunking: { kind: "cdc", min: 1000, avg: 30_000, max: 40_000 },
      codec: "gzip",
      created: CREATED,
      chunks,
      lengths: [30_000, 30_000, 10_000],
      prefetch: [2, 1],
    };
    const b = {
      prefetch: [2, 1],
      lengths: [30_000, 30_000, 10_000],
      chunks: [...chunks],
      created: CREATED,
      codec: "gzip",
      chunking: { max: 40_000, avg: 30_000, min: 1000, kind: "cdc" },
      sha256: "a".repeat(64),
      size: 70_000,
      version: 1,
    } as Manifest;
    expect(Object.keys(b)).not.toEqual(Object.keys(a));
    const bytesA = encodeManifest(a);
    const bytesB = encodeManifest(b);
    expect(bytesB).toEqual(bytesA);
    expect(await manifestId(bytesB)).toBe(await manifestId(bytesA));
  });

  it("does not write properties that are not part of the format", () => {
    const manifest = fixedManifest(10, 4);
    const extended = {
      ...manifest,
      extra: 1,
      chunking: { ...manifest.chunking, avg: 3 },
    } as unknown as Manifest;
    expect(encodeManifest(extended)).toEqual(encodeManifest(manifest));
  });

  const canonical = new TextDecoder().decode(encodeManifest(fixedManifest(10 * KiB, 4 * KiB)));

  it("refuses extra whitespace", () => {
    for (const text of [
      JSON.stringify(JSON.parse(canonical), null, 2),
      `${canonical}\n`,
      ` ${canonical}`,
      canonical.replace('"version":1', '"version": 1'),
    ]) {
      expect(decodeError(new TextEncoder().encode(text)).message).toMatch(/not in canonical form/);
    }
  });

  it("refuses a byte order mark", () => {
    const bytes = new Uint8Array([0xef, 0xbb, 0xbf, ...new TextEncoder().encode(canonical)]);
    expect(decodeError(bytes).message).toMatch(/not in canonical form/);
  });

  it("refuses reordered keys", () => {
    const { format, ...rest } = JSON.parse(canonical) as Record<string, unknown>;
    expect(decodeError(bytesOf({ ...rest, format })).message).toMatch(/not in canonical form/);
    const doc = JSON.parse(canonical) as Record<string, unknown>;
    doc.chunking = { size: 4 * KiB, kind: "fixed" };
    expect(decodeError(bytesOf(doc)).message).toMatch(/not in canonical form/);
  });

  it("refuses length runs that are not merged", () => {
    const manifest = fixedManifest(8, 4);
    const doc = docOf(manifest);
    expect(doc.lengths).toEqual([[4, 2]]);
    expect(decodeManifest(bytesOf(doc))).toEqual(manifest);
    doc.lengths = [
      [4, 1],
      [4, 1],
    ];
    expect(decodeError(bytesOf(doc)).message).toMatch(/not in canonical form/);
  });

  it("refuses other number spellings", () => {
    expect(
      decodeError(new TextEncoder().encode(canonical.replace('"size":10240', '"size":1.024e4')))
        .message,
    ).toMatch(/not in canonical form/);
    expect(
      decodeError(new TextEncoder().encode(canonical.replace('"version":1', '"version":1.0')))
        .message,
    ).toMatch(/not in canonical form/);
  });

  it("refuses a duplicated key", () => {
    const text = canonical.replace('"codec":"zstd"', '"codec":"gzip","codec":"zstd"');
    expect(decodeError(new TextEncoder().encode(text)).message).toMatch(/not in canonical form/);
  });

  it("refuses escaped characters that decode to the same strings", () => {
    const text = canonical.replace('"created":"2026', '"created":"\\u0032026');
    expect(decodeError(new TextEncoder().encode(text)).message).toMatch(/not in canonical form/);
  });
});

describe("compact encoding", () => {
  it("encodes a 4 GiB image at 256 KiB (16,384 chunks) in under 1.2 MB", () => {
    const chunkSize = 256 * KiB;
    const count = 16_384;
    const manifest: Manifest = {
      version: 1,
      size: count * chunkSize,
      sha256: randomId(),
      chunking: { kind: "fixed", size: chunkSize },
      codec: "zstd",
      created: CREATED,
      chunks: Array.from({ length: count }, randomId),
      lengths: new Array<number>(count).fill(chunkSize),
      prefetch: Array.from({ length: 64 }, (_, i) => i * 7),
    };
    expect(manifest.size).toBe(4 * 1024 * 1024 * 1024);
    const started = performance.now();
    const bytes = encodeManifest(manifest);
    const decoded = decodeManifest(bytes);
    const elapsed = performance.now() - started;
    expect(bytes.byteLength).toBeLessThan(1.2e6);
    // Almost only the ids: 64 hex digits, two quotes and a comma each.
    expect(bytes.byteLength).toBeLessThan(count * 67 + 1000);
    expect(decoded).toEqual(manifest);
    // Loose sanity bound only (shared CI machines, two runtimes): not a benchmark.
    expect(elapsed).toBeLessThan(2000);
  });

  it("run-length encodes a fixed image in at most two runs", () => {
    for (const [size, chunkSize] of [
      [1, 4],
      [4, 4],
      [5, 4],
      [4 * 1024 * 1024 + 1, 64 * KiB],
      [100 * 256 * KiB, 256 * KiB],
      [100 * 256 * KiB - 3, 256 * KiB],
    ] as const) {
      const manifest = fixedManifest(size, chunkSize);
      const runs = docOf(manifest).lengths as [number, number][];
      expect(runs.length).toBeLessThanOrEqual(2);
      expect(runs.length).toBe(size % chunkSize === 0 || size < chunkSize ? 1 : 2);
      expect(runs.reduce((sum, [length, times]) => sum + length * times, 0)).toBe(size);
      expect(decodeManifest(encodeManifest(manifest)).lengths).toEqual(manifest.lengths);
    }
  });

  it("merges equal neighbours of a cdc image only", () => {
    const manifest = cdcManifest([5, 5, 7, 5, 5, 5, 9]);
    expect(docOf(manifest).lengths).toEqual([
      [5, 2],
      [7, 1],
      [5, 3],
      [9, 1],
    ]);
    expect(decodeManifest(encodeManifest(manifest)).lengths).toEqual(manifest.lengths);
  });
});

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

describe("formatChunking", () => {
  it("describes fixed and cdc chunking", () => {
    expect(formatChunking({ kind: "fixed", size: 262_144 })).toBe("fixed:262144");
    expect(formatChunking({ kind: "cdc", min: 65_536, avg: 262_144, max: 1_048_576 })).toBe(
      "cdc:65536/262144/1048576",
    );
    expect(formatChunking({ kind: "casync", min: 16_384, avg: 65_536, max: 262_144 })).toBe(
      "casync:16384/65536/262144",
    );
  });
});

describe("validation", () => {
  it("refuses an unknown field, naming it", () => {
    const error = expectInvalid((doc) => {
      doc.comment = "hi";
    }, /unknown field "comment"/);
    expect(error.field).toBe("comment");
  });

  it("refuses a missing or wrong format tag", () => {
    expectInvalid(
      (doc) => {
        doc.format = "edgeboot-ref";
      },
      /"format" must be "edgeboot-manifest"/,
      "format",
    );
    expectInvalid(
      (doc) => {
        delete doc.format;
      },
      /"format" must be "edgeboot-manifest"/,
      "format",
    );
  });

  it("refuses other versions, saying they are unsupported", () => {
    expectInvalid(
      (doc) => {
        doc.version = 2;
      },
      /unsupported manifest version 2; this code reads version 1/,
      "version",
    );
    expectInvalid(
      (doc) => {
        doc.version = "1";
      },
      /unsupported manifest version "1"/,
      "version",
    );
    expectInvalid(
      (doc) => {
        delete doc.version;
      },
      /unsupported manifest version/,
      "version",
    );
  });

  it("refuses a negative, fractional or non-numeric size", () => {
    for (const size of [-1, 10.5, "10240", null, 2 ** 53]) {
      expectInvalid(
        (doc) => {
          doc.size = size;
        },
        /manifest size must be a non-negative integer/,
        "size",
      );
    }
  });

  it("refuses a bad sha256", () => {
    for (const sha256 of ["A".repeat(64), "a".repeat(63), "g".repeat(64), 5, undefined]) {
      expectInvalid(
        (doc) => {
          doc.sha256 = sha256;
        },
        /sha256 must be 64 lowercase hex digits/,
        "sha256",
      );
    }
  });

  describe("chunking", () => {
    const base = cdcManifest([1000]);
    const invalid = (chunking: unknown, message: RegExp) =>
      expectInvalid(
        (doc) => {
          doc.chunking = chunking;
        },
        message,
        undefined,
        base,
      );

    it("refuses cdc with min > avg or avg > max", () => {
      invalid({ kind: "cdc", min: 3000, avg: 2000, max: 4000 }, /min <= avg <= max/);
      invalid({ kind: "cdc", min: 1000, avg: 5000, max: 4000 }, /min <= avg <= max/);
    });

    it("refuses sizes of 0 or over MAX_CHUNK_BYTES", () => {
      invalid({ kind: "fixed", size: 0 }, /chunking\.size must be between 1 and 8388608 bytes/);
      invalid(
        { kind: "fixed", size: MAX_CHUNK_BYTES + 1 },
        /chunking\.size must be between 1 and 8388608/,
      );
      invalid({ kind: "cdc", min: 0, avg: 2000, max: 4000 }, /chunking\.min must be between 1/);
      invalid(
        { kind: "cdc", min: 1000, avg: 2000, max: MAX_CHUNK_BYTES + 1 },
        /chunking\.max must be between 1/,
      );
      invalid({ kind: "fixed", size: -4 }, /chunking\.size must be a non-negative integer/);
      invalid({ kind: "fixed", size: 4.5 }, /chunking\.size must be a non-negative integer/);
    });

    it("accepts exactly MAX_CHUNK_BYTES", () => {
      const manifest = fixedManifest(MAX_CHUNK_BYTES + 1, MAX_CHUNK_BYTES);
      expect(decodeManifest(encodeManifest(manifest))).toEqual(manifest);
    });

    it("refuses an unknown kind or a malformed object", () => {
      const shape = /chunking must be \{"kind":"fixed","size":N\} or \{"kind":"cdc"/;
      invalid({ kind: "rabin", size: 4096 }, shape);
      invalid({ kind: "fixed" }, shape);
      invalid({ kind: "fixed", size: 1000, min: 1 }, shape);
      invalid({ kind: "cdc", min: 1000, avg: 2000 }, shape);
      invalid({ size: 1000 }, shape);
      invalid([1000], /chunking must be a JSON object/);
      invalid("fixed:1000", /chunking must be a JSON object/);
      invalid(null, /chunking must be a JSON object/);
    });
  });

  it("refuses an unknown codec", () => {
    for (const codec of ["xz", "ZSTD", "", null]) {
      expectInvalid(
        (doc) => {
          doc.codec = codec;
        },
        /codec must be "zstd" or "gzip"/,
        "codec",
      );
    }
  });

  it("refuses a created time that is not ISO 8601 UTC with milliseconds", () => {
    for (const created of [
      "2026-11-26T11:00:00Z",
      "2026-11-26T11:00:00.000+00:00",
      "2026-11-26 11:00:00.000Z",
      "2026-11-26",
      "2026-13-01T00:00:00.000Z",
      "2026-11-26T25:00:00.000Z",
      "",
      1_795_000_000_000,
      null,
    ]) {
      expectInvalid(
        (doc) => {
          doc.created = created;
        },
        /created must be an ISO 8601 UTC time/,
        "created",
      );
    }
  });

  it("refuses lengths that do not add up to the size", () => {
    expectInvalid(
      (doc) => {
        doc.size = 10 * KiB + 1;
      },
      /chunk lengths add up to 10240, not the image size 10241/,
      "size",
    );
    expectInvalid(
      (doc) => {
        doc.size = 0;
      },
      /add up to 3000, not the image size 0/,
      "size",
      cdcManifest([1000, 2000]),
    );
  });

  it("refuses a lengths count that differs from the chunks count", () => {
    // 3 chunks listed, lengths for 2.
    expectInvalid(
      (doc) => {
        doc.lengths = [[4096, 2]];
      },
      /lengths describe 2 chunks but 3 are listed/,
      "lengths",
    );
    // 3 chunks listed, lengths for 4.
    expectInvalid(
      (doc) => {
        doc.lengths = [
          [4096, 2],
          [2048, 2],
        ];
      },
      /lengths describe more chunks than the 3 listed/,
      "lengths",
    );
    // A huge count does not expand before it is refused.
    expectInvalid(
      (doc) => {
        doc.lengths = [[1, 2 ** 52]];
      },
      /lengths describe more chunks than the 3 listed/,
      "lengths",
    );
    expectInvalid(
      (doc) => {
        (doc.chunks as string[]).pop();
      },
      /more chunks than the 2 listed/,
      "lengths",
    );
  });

  it("refuses malformed length runs", () => {
    const cases: [unknown, RegExp][] = [
      [{ 4096: 3 }, /lengths must be an array of \[length, count\] runs/],
      [[4096, 4096, 2048], /each manifest lengths entry must be a \[length, count\] pair/],
      [[[4096, 2, 0]], /\[length, count\] pair/],
      [
        [
          [4096, 0],
          [4096, 2],
          [2048, 1],
        ],
        /length and a count of at least 1/,
      ],
      [
        [
          [0, 1],
          [4096, 2],
          [2048, 1],
        ],
        /length and a count of at least 1/,
      ],
      [
        [
          [-4096, 2],
          [2048, 1],
        ],
        /lengths must be a non-negative integer/,
      ],
      [
        [
          [4096, 1.5],
          [2048, 1],
        ],
        /lengths must be a non-negative integer/,
      ],
    ];
    for (const [lengths, message] of cases) {
      expectInvalid(
        (doc) => {
          doc.lengths = lengths;
        },
        message,
        "lengths",
      );
    }
  });

  it("refuses a short chunk in the middle of a fixed image", () => {
    expectInvalid(
      (doc) => {
        doc.lengths = [
          [4096, 1],
          [2048, 1],
          [4096, 1],
        ];
      },
      /chunk 1 is 2048 bytes; with fixed chunking only the last chunk may be shorter than 4096/,
      "lengths",
    );
  });

  it("refuses a chunk longer than the chunking allows", () => {
    expectInvalid(
      (doc) => {
        doc.lengths = [
          [4096, 1],
          [6144, 1],
        ];
        doc.chunks = (doc.chunks as string[]).slice(0, 2);
      },
      /chunk 1 is 6144 bytes, over the chunking's 4096/,
      "lengths",
    );
    expectInvalid(
      (doc) => {
        doc.lengths = [[256 * KiB + 1, 1]];
        doc.size = 256 * KiB + 1;
      },
      /chunk 0 is 262145 bytes, over the chunking's 262144/,
      "lengths",
      cdcManifest([1000]),
    );
  });

  it("refuses a bad chunk id, naming its index", () => {
    for (const id of ["C".repeat(64), "c".repeat(63), 7, null]) {
      expectInvalid(
        (doc) => {
          (doc.chunks as unknown[])[1] = id;
        },
        /manifest chunk 1 is not 64 lowercase hex digits/,
        "chunks",
      );
    }
    expectInvalid(
      (doc) => {
        doc.chunks = "c".repeat(64);
      },
      /chunks must be an array of ids/,
      "chunks",
    );
  });

  it("refuses prefetch entries that are not chunk indexes", () => {
    for (const entry of [3, -1, 1.5, "0", null]) {
      expectInvalid(
        (doc) => {
          doc.prefetch = [0, entry];
        },
        new RegExp(`prefetch entry ${escapeRegExp(JSON.stringify(entry))} is not a chunk index`),
        "prefetch",
      );
    }
    expectInvalid(
      (doc) => {
        doc.prefetch = 0;
      },
      /prefetch must be an array/,
      "prefetch",
    );
    expectInvalid(
      (doc) => {
        doc.prefetch = [0];
      },
      /prefetch entry 0 is not a chunk index/,
      "prefetch",
      cdcManifest([]),
    );
  });

  it("refuses more than MAX_MANIFEST_CHUNKS chunks", () => {
    const id = "c".repeat(64);
    const doc = {
      ...docOf(cdcManifest([])),
      chunks: new Array<string>(MAX_MANIFEST_CHUNKS + 1).fill(id),
    };
    const message = new RegExp(
      `lists ${MAX_MANIFEST_CHUNKS + 1} chunks; the limit is ${MAX_MANIFEST_CHUNKS}`,
    );
    expect(() => validateManifest(doc)).toThrow(message);

    // The same through bytes, built as a string without stringifying a huge array.
    const head = new TextDecoder()
      .decode(encodeManifest(cdcManifest([])))
      .replace(/"chunks":\[\]\}$/, "");
    const text = `${head}"chunks":[${`"${id}",`.repeat(MAX_MANIFEST_CHUNKS)}"${id}"]}`;
    const bytes = new TextEncoder().encode(text);
    expect(bytes.byteLength).toBeLessThan(MAX_MANIFEST_BYTES);
    const error = decodeError(bytes);
    expect(error.message).toMatch(message);
    expect(error.field).toBe("chunks");
  });

  it("refuses a document larger than MAX_MANIFEST_BYTES before parsing it", () => {
    const bytes = new Uint8Array(MAX_MANIFEST_BYTES + 1).fill(0x20);
    const error = decodeError(bytes);
    expect(error).not.toBeInstanceOf(FormatSyntaxError);
    expect(error.message).toMatch(/larger than 25165824 bytes/);
  });

  it("throws a FormatSyntaxError for bytes that are not JSON", () => {
    for (const text of ["", "{", "not json", '{"format":"edgeboot-manifest",}', "\0"]) {
      const error = decodeError(new TextEncoder().encode(text));
      expect(error).toBeInstanceOf(FormatSyntaxError);
      expect(error.message).toMatch(/manifest is not valid UTF-8 JSON/);
    }
  });

  it("throws a FormatSyntaxError for invalid UTF-8", () => {
    const canonical = encodeManifest(fixedManifest(10, 4));
    for (const bad of [[0xff], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xe2, 0x82]]) {
      // Inside the created string: the JSON would be fine but for the encoding.
      const at = new TextDecoder().decode(canonical).indexOf(CREATED);
      const bytes = new Uint8Array([
        ...canonical.subarray(0, at),
        ...bad,
        ...canonical.subarray(at),
      ]);
      const error = decodeError(bytes);
      expect(error).toBeInstanceOf(FormatSyntaxError);
      expect(error.message).toMatch(/UTF-8/);
    }
  });

  it("refuses JSON that is not an object", () => {
    for (const value of [[], [docOf(fixedManifest(10, 4))], "manifest", 1, null, true]) {
      const error = decodeError(bytesOf(value));
      expect(error).not.toBeInstanceOf(FormatSyntaxError);
      expect(error.message).toMatch(/manifest must be a JSON object/);
    }
  });

  it("types chunking as a union", () => {
    const chunkings: Chunking[] = [
      { kind: "fixed", size: 1 },
      { kind: "cdc", min: 1, avg: 1, max: 1 },
    ];
    for (const chunking of chunkings) {
      const manifest = fixedManifest(1, 1, { chunking });
      expect(decodeManifest(encodeManifest(manifest)).chunking).toEqual(chunking);
    }
  });
});

/** Escapes regular expression metacharacters. */
function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
