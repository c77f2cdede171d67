/**
 * Property-based tests of the casync blob index writer (src/format/caibx.ts), read back by an
 * independent reader written here from casync's caformat.h and caindex.c rather than from the
 * writer: a 48-byte index header (size 48, CA_FORMAT_INDEX, feature flags, chunk size min/avg/max),
 * a 16-byte table header (size UINT64_MAX, CA_FORMAT_TABLE), 40-byte items (end offset, 32-byte
 * id), and a 40-byte tail (two zero words, the table's offset 48, the table's size, the marker).
 * Every number is little-endian 64-bit.
 *
 * casync accepts an index when 1 <= min <= avg <= max <= 128 MiB (ca_index_read_head) and each
 * item's end is past the previous one by at most max (ca_index_read_chunk); the reader checks both.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { caChunkSizes, caibxSize, encodeCaibx } from "../../src/format/caibx.js";
import { MAX_CHUNK_BYTES } from "../../src/format/limits.js";
import type { Chunking, Manifest } from "../../src/format/manifest.js";
import { FUZZ_RUNS, fuzzTimeout, objectIdArb } from "../fixtures/fuzz.js";

/** Per test: a property that hangs or crawls fails on time instead of stalling the run. */
const TIMEOUT = fuzzTimeout(3);

const CHUNK_SIZE_LIMIT = 128n * 1024n * 1024n;
const INDEX = 0x96824d9c7b129ff9n;
const TABLE = 0xe75b9e112f17417dn;
const TAIL_MARKER = 0x4b4f050e5549ecd1n;
const SHA256_FLAGS = 0x9000000000000000n;
const UINT64_MAX = 0xffffffffffffffffn;

interface ReadIndex {
  flags: bigint;
  min: bigint;
  avg: bigint;
  max: bigint;
  items: { end: bigint; id: string }[];
}

/** Reads a blob index as casync would, throwing at the first thing casync would refuse. */
function readCaibx(bytes: Uint8Array): ReadIndex {
  const le64 = (at: number): bigint => {
    if (at + 8 > bytes.byteLength) throw new Error(`index cut short at byte ${at}`);
    let v = 0n;
    for (let i = 7; i >= 0; i--) v = (v << 8n) | BigInt(bytes[at + i] as number);
    return v;
  };
  const id = (at: number) =>
    Array.from(bytes.subarray(at, at + 32), (b) => b.toString(16).padStart(2, "0")).join("");
  if (le64(0) !== 48n) throw new Error("index header size is not 48");
  if (le64(8) !== INDEX) throw new Error("not CA_FORMAT_INDEX");
  const [flags, min, avg, max] = [le64(16), le64(24), le64(32), le64(40)];
  for (const v of [min, avg, max]) {
    if (v < 1n || v > CHUNK_SIZE_LIMIT) throw new Error(`chunk size limit ${v} out of range`);
  }
  if (!(min <= avg && avg <= max)) throw new Error("chunk size limits not ordered");
  if (le64(48) !== UINT64_MAX || le64(56) !== TABLE) throw new Error("bad table header");
  const items: { end: bigint; id: string }[] = [];
  let at = 64;
  let previous = 0n;
  for (;;) {
    const end = le64(at);
    if (end === 0n) break; // the tail starts with two zero words
    if (end <= previous) throw new Error(`item ${items.length} does not move forward`);
    if (end - previous > max) throw new Error(`item ${items.length} is longer than max`);
    if (at + 40 > bytes.byteLength) throw new Error("item cut short");
    items.push({ end, id: id(at + 8) });
    previous = end;
    at += 40;
  }
  if (le64(at + 8) !== 0n) throw new Error("tail's second word is not zero");
  if (le64(at + 16) !== 48n) throw new Error("tail does not point at the table");
  const tableSize = BigInt(16 + 40 * items.length + 40);
  if (le64(at + 24) !== tableSize) throw new Error("tail's table size is wrong");
  if (le64(at + 32) !== TAIL_MARKER) throw new Error("no tail marker");
  if (at + 40 !== bytes.byteLength) throw new Error("bytes after the tail");
  return { flags, min, avg, max, items };
}

// ---- generators ----

const objectId = objectIdArb;

type IndexInput = Pick<Manifest, "chunking" | "lengths" | "chunks">;

/** Chunking and lengths as a valid manifest has them (decodeManifest's rules). */
const validInput: fc.Arbitrary<IndexInput> = fc
  .record({
    kind: fc.constantFrom("fixed", "cdc", "casync"),
    params: fc
      .array(
        fc.oneof(fc.integer({ min: 1, max: MAX_CHUNK_BYTES }), fc.integer({ min: 1, max: 5000 })),
        {
          minLength: 3,
          maxLength: 3,
        },
      )
      .map((v) => v.sort((a, b) => a - b)),
    fractions: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 60 }),
    ids: fc.array(objectId, { minLength: 60, maxLength: 60 }),
  })
  .map(({ kind, params, fractions, ids }) => {
    const [min, avg, max] = params as [number, number, number];
    const n = fractions.length;
    let chunking: Chunking;
    let lengths: number[];
    if (kind === "fixed") {
      chunking = { kind: "fixed", size: max };
      lengths = fractions.map((f, i) => (i < n - 1 ? max : Math.max(1, Math.ceil(max * f))));
    } else {
      chunking = { kind: kind as "cdc" | "casync", min, avg, max };
      lengths = fractions.map((f) => Math.max(1, Math.ceil(max * f)));
    }
    return { chunking, lengths, chunks: ids.slice(0, n) };
  });

/** Any positive limits and lengths, even ones no valid manifest has (the writer widens them). */
const wideInput: fc.Arbitrary<IndexInput> = fc
  .record({
    kind: fc.constantFrom("fixed", "cdc", "casync"),
    params: fc.array(fc.integer({ min: 1, max: 2 ** 32 }), { minLength: 3, maxLength: 3 }),
    lengths: fc.array(
      fc.oneof(fc.integer({ min: 1, max: 128 * 1024 * 1024 }), fc.integer({ min: 1, max: 100 })),
      { maxLength: 20 },
    ),
    ids: fc.array(objectId, { minLength: 20, maxLength: 20 }),
  })
  .map(({ kind, params, lengths, ids }) => {
    const [min, avg, max] = params as [number, number, number];
    const chunking: Chunking =
      kind === "fixed" ? { kind: "fixed", size: min } : { kind: kind as "cdc", min, avg, max };
    return { chunking, lengths, chunks: ids.slice(0, lengths.length) };
  });

function checkIndex(input: IndexInput): ReadIndex {
  const bytes = encodeCaibx(input);
  expect(bytes.byteLength).toBe(caibxSize(input.chunks.length));
  const index = readCaibx(bytes);
  expect(index.flags).toBe(SHA256_FLAGS);
  expect(index.items.map((item) => item.id)).toEqual(input.chunks);
  let sum = 0n;
  const ends = input.lengths.map((length) => {
    sum += BigInt(length);
    return sum;
  });
  expect(index.items.map((item) => item.end)).toEqual(ends);
  const sizes = caChunkSizes(input);
  expect([index.min, index.avg, index.max]).toEqual([sizes.min, sizes.avg, sizes.max].map(BigInt));
  return index;
}

describe("encodeCaibx, read back by an independent casync reader", { timeout: TIMEOUT }, () => {
  it("writes what casync accepts, for every valid manifest, with the stated chunk size limits", () => {
    fc.assert(
      fc.property(validInput, (input) => {
        const index = checkIndex(input);
        const stated =
          input.chunking.kind === "fixed"
            ? [input.chunking.size, input.chunking.size, input.chunking.size]
            : [input.chunking.min, input.chunking.avg, input.chunking.max];
        // A valid manifest's own limits already satisfy casync: they are written as they are.
        expect([index.min, index.avg, index.max]).toEqual(stated.map(BigInt));
      }),
      { numRuns: FUZZ_RUNS },
    );
  });

  it("widens any limits that a chunk or casync's bounds would break", () => {
    fc.assert(
      fc.property(wideInput, (input) => {
        checkIndex(input);
      }),
      { numRuns: FUZZ_RUNS },
    );
  });

  it("writes the empty index of an empty image", () => {
    const index = checkIndex({
      chunking: { kind: "fixed", size: 262144 },
      lengths: [],
      chunks: [],
    });
    expect(index.items).toEqual([]);
  });
});
