/**
 * Manifest encoding: round trips, the manifest id, the canonical form (and the refusal of any other
 * spelling), the compact run-length encoding of lengths, and formatChunking.
 */
import { describe, expect, it } from "vitest";
import { sha256Hex, toHex } from "../../src/format/hex.js";
import {
  decodeManifest,
  encodeManifest,
  formatChunking,
  type Manifest,
  manifestId,
  validateManifest,
} from "../../src/format/manifest.js";
import {
  bytesOf,
  CREATED,
  cdcManifest,
  decodeError,
  docOf,
  fixedManifest,
  ids,
  KiB,
} from "./manifest-fixtures.js";

const EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

function randomId(): string {
  return toHex(crypto.getRandomValues(new Uint8Array(32)));
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
