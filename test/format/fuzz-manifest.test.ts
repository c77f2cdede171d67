/**
 * Property-based tests of the manifest (src/format/manifest.ts) and of the boot profile's
 * prefetch arithmetic (src/format/profile.ts): chunk offsets and chunk lookup against a linear
 * scan, the canonical encoding's round trip, decoding of mutated and random documents (only a
 * FormatError, and nothing accepted that would not re-encode to the same bytes), and the prefetch
 * list against a reference.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { FormatError } from "../../src/format/errors.js";
import { MAX_CHUNK_BYTES } from "../../src/format/limits.js";
import {
  type Chunking,
  chunkAt,
  chunkOffsets,
  decodeManifest,
  encodeManifest,
  MANIFEST_VERSION,
  type Manifest,
} from "../../src/format/manifest.js";
import { parseBootProfile, prefetchFromReads } from "../../src/format/profile.js";
import {
  FUZZ_RUNS,
  fuzzTimeout,
  objectIdArb,
  onlyFormatError,
  sameBytes,
} from "../fixtures/fuzz.js";

/** Per test: a property that hangs or crawls fails on time instead of stalling the run. */
const TIMEOUT = fuzzTimeout(5);

const MiB = 1024 * 1024;

// ---- generators ----

const objectId = objectIdArb;

/** Chunk lengths as a manifest holds them: 1 byte to 8 MiB, with runs of equal lengths. */
const chunkLength = fc.oneof(
  fc.integer({ min: 1, max: MAX_CHUNK_BYTES }),
  fc.integer({ min: 1, max: 70_000 }),
  fc.constantFrom(1, 4096, 65536, 262144, MAX_CHUNK_BYTES),
);
const lengthsArb = fc.oneof(
  fc.array(chunkLength, { maxLength: 60 }),
  fc
    .array(fc.tuple(chunkLength, fc.integer({ min: 1, max: 100 })), { maxLength: 8 })
    .map((runs) => runs.flatMap(([length, times]) => Array<number>(times).fill(length))),
);

const created = fc
  .date({
    min: new Date("0000-01-01T00:00:00.000Z"),
    max: new Date("9999-12-31T23:59:59.999Z"),
    noInvalidDate: true,
  })
  .map((d) => d.toISOString());

/** min <= avg <= max, each 1 byte to 8 MiB. */
const cdcParams = fc
  .array(
    fc.oneof(fc.integer({ min: 1, max: MAX_CHUNK_BYTES }), fc.integer({ min: 1, max: 9000 })),
    {
      minLength: 3,
      maxLength: 3,
    },
  )
  .map((v) => v.sort((a, b) => a - b) as [number, number, number]);

/** A valid manifest of any chunking, its lengths fitting the chunking's rules. */
const manifestArb: fc.Arbitrary<Manifest> = fc
  .record({
    kind: fc.constantFrom("fixed", "cdc", "casync"),
    fixedSize: fc.oneof(fc.integer({ min: 1, max: MAX_CHUNK_BYTES }), fc.constantFrom(1, 262144)),
    cdc: cdcParams,
    count: fc.integer({ min: 0, max: 80 }),
    seedLengths: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 80 }),
    lastFraction: fc.double({ min: 0, max: 1, noNaN: true }),
    sha256: objectId,
    codec: fc.constantFrom("gzip" as const, "zstd" as const),
    created,
    ids: fc.array(objectId, { maxLength: 80 }),
    prefetch: fc.option(fc.array(fc.nat(), { maxLength: 20 }), { nil: undefined }),
  })
  .map((r) => {
    const count = Math.min(r.count, r.ids.length);
    let chunking: Chunking;
    let lengths: number[];
    if (r.kind === "fixed") {
      chunking = { kind: "fixed", size: r.fixedSize };
      lengths = Array<number>(count).fill(r.fixedSize);
      if (count > 0) lengths[count - 1] = Math.max(1, Math.ceil(r.fixedSize * r.lastFraction));
    } else {
      const [min, avg, max] = r.cdc;
      chunking = { kind: r.kind as "cdc" | "casync", min, avg, max };
      lengths = Array.from({ length: count }, (_, i) =>
        Math.max(1, Math.ceil(max * (r.seedLengths[i] ?? r.lastFraction))),
      );
    }
    const manifest: Manifest = {
      version: MANIFEST_VERSION,
      size: lengths.reduce((a, b) => a + b, 0),
      sha256: r.sha256,
      chunking,
      codec: r.codec,
      created: r.created,
      chunks: r.ids.slice(0, count),
      lengths,
    };
    if (r.prefetch !== undefined && count > 0) manifest.prefetch = r.prefetch.map((i) => i % count);
    return manifest;
  });

/** A small valid manifest, for examples. */
const EXAMPLE_MANIFEST: Manifest = {
  version: MANIFEST_VERSION,
  size: 5,
  sha256: "0".repeat(64),
  chunking: { kind: "fixed", size: 4 },
  codec: "gzip",
  created: "2026-11-26T11:00:00.000Z",
  chunks: ["1".repeat(64), "2".repeat(64)],
  lengths: [4, 1],
};

// ---- references ----

function referenceChunkAt(lengths: readonly number[], position: number): number {
  let at = 0;
  for (let i = 0; i < lengths.length; i++) {
    const next = at + (lengths[i] as number);
    if (position >= at && position < next) return i;
    at = next;
  }
  return -1;
}

/** Chunks that share at least one byte with a read, in first-read order, each once. */
function referencePrefetch(
  reads: readonly [number, number][],
  lengths: readonly number[],
): number[] {
  const order: number[] = [];
  for (const [offset, length] of reads) {
    let at = 0;
    for (let i = 0; i < lengths.length; i++) {
      const next = at + (lengths[i] as number);
      const overlaps = offset < next && offset + length > at;
      if (overlaps && !order.includes(i)) order.push(i);
      at = next;
    }
  }
  return order;
}

// ---- mutations ----

type Mutation =
  | { kind: "flip"; at: number; value: number }
  | { kind: "truncate"; at: number }
  | { kind: "insert"; at: number; bytes: Uint8Array }
  | { kind: "delete"; at: number; count: number }
  | { kind: "json"; path: number[]; value: unknown };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({
    kind: fc.constant("flip" as const),
    at: fc.nat(),
    value: fc.integer({ min: 0, max: 255 }),
  }),
  fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant("insert" as const),
    at: fc.nat(),
    bytes: fc.oneof(
      fc.uint8Array({ minLength: 1, maxLength: 4 }),
      fc
        .constantFrom(" ", ",", "0", "-", '"', "]", "}", ".0", "e1", "\ufeff")
        .map((s) => new TextEncoder().encode(s)),
    ),
  }),
  fc.record({
    kind: fc.constant("delete" as const),
    at: fc.nat(),
    count: fc.integer({ min: 1, max: 8 }),
  }),
  fc.record({
    kind: fc.constant("json" as const),
    path: fc.array(fc.nat(), { minLength: 1, maxLength: 4 }),
    value: fc.oneof(
      fc.jsonValue({ maxDepth: 2 }),
      fc.constantFrom(
        0,
        -1,
        -0,
        1.5,
        1e21,
        2 ** 53,
        Number.MAX_SAFE_INTEGER,
        "",
        null,
        [],
        {},
        [1, 1],
        [0, 1],
        "fixed",
        "cdc",
        "casync",
        "gzip",
        "edgeboot-manifest",
      ),
    ),
  }),
);

/** Replaces the value at `path` (indexes into the keys or items met on the way) with `value`. */
function replaceAt(doc: unknown, path: number[], value: unknown): unknown {
  const [step, ...rest] = path;
  if (step === undefined) return value;
  if (Array.isArray(doc)) {
    if (doc.length === 0) return [value];
    const copy = [...doc];
    const i = step % (doc.length + 1);
    copy[i] = replaceAt(doc[i], rest, value);
    return copy;
  }
  if (typeof doc === "object" && doc !== null) {
    const keys = Object.keys(doc);
    const copy: Record<string, unknown> = { ...doc };
    if (step % (keys.length + 2) >= keys.length) {
      // Also delete or add a key now and then.
      if (step % 2 === 0 && keys.length > 0) delete copy[keys[step % keys.length] as string];
      else copy[`k${step}`] = value;
      return copy;
    }
    const key = keys[step % keys.length] as string;
    copy[key] = replaceAt(copy[key], rest, value);
    return copy;
  }
  return value;
}

function mutate(bytes: Uint8Array, m: Mutation): Uint8Array {
  const n = bytes.byteLength;
  switch (m.kind) {
    case "flip": {
      if (n === 0) return bytes;
      const out = bytes.slice();
      out[m.at % n] = m.value;
      return out;
    }
    case "truncate":
      return bytes.slice(0, m.at % (n + 1));
    case "insert": {
      const at = m.at % (n + 1);
      const out = new Uint8Array(n + m.bytes.byteLength);
      out.set(bytes.subarray(0, at));
      out.set(m.bytes, at);
      out.set(bytes.subarray(at), at + m.bytes.byteLength);
      return out;
    }
    case "delete": {
      const at = m.at % (n + 1);
      return new Uint8Array([...bytes.subarray(0, at), ...bytes.subarray(at + m.count)]);
    }
    case "json": {
      const doc = JSON.parse(new TextDecoder().decode(bytes));
      return new TextEncoder().encode(JSON.stringify(replaceAt(doc, m.path, m.value)));
    }
  }
}

function checkDecodeOf(bytes: Uint8Array): void {
  const result = onlyFormatError(() => decodeManifest(bytes));
  if (result instanceof FormatError) return;
  // Accepted: then it is canonical, and its own encoding.
  expect(sameBytes(encodeManifest(result as Manifest), bytes)).toBe(true);
}

// ---- properties ----

describe("chunkOffsets and chunkAt", { timeout: TIMEOUT }, () => {
  it("agree with a linear scan, at every boundary and at random positions", () => {
    const arb = fc.tuple(
      fc.oneof(lengthsArb, fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 30 })),
      fc.array(fc.integer({ min: -3, max: 2 ** 40 }), { maxLength: 20 }),
      fc.array(fc.nat(), { maxLength: 20 }),
    );
    fc.assert(
      fc.property(arb, ([lengths, randomPositions, randomChunks]) => {
        const offsets = chunkOffsets({ lengths });
        const sums = [0];
        for (const length of lengths) sums.push((sums.at(-1) as number) + length);
        expect(offsets).toEqual(sums);
        const sum = sums.at(-1) as number;
        const boundaries =
          offsets.length <= 64 ? offsets : randomChunks.map((i) => offsets[i % offsets.length]);
        const positions = [
          -1,
          0,
          sum - 1,
          sum,
          sum + 1,
          ...(boundaries as number[]).flatMap((o) => [o - 1, o, o + 1]),
          ...randomPositions.map((p) => (sum > 0 ? p % (sum + 2) : p)),
        ];
        const wrong = positions
          .map((p) => [p, chunkAt(offsets, p), referenceChunkAt(lengths, p)])
          .filter(([, got, want]) => got !== want);
        expect(wrong).toEqual([]);
      }),
      { numRuns: FUZZ_RUNS },
    );
  });
});

describe("encodeManifest and decodeManifest", { timeout: TIMEOUT }, () => {
  it("round-trip every valid manifest, byte for byte", () => {
    fc.assert(
      fc.property(manifestArb, (manifest) => {
        const bytes = encodeManifest(manifest);
        const decoded = decodeManifest(bytes);
        expect(decoded).toEqual(manifest);
        expect(sameBytes(encodeManifest(decoded), bytes)).toBe(true);
      }),
      { numRuns: FUZZ_RUNS },
    );
  });

  it("refuse mutated encodings with a FormatError, or accept only canonical bytes", () => {
    fc.assert(
      fc.property(manifestArb, fc.array(mutation, { minLength: 1, maxLength: 3 }), (m, ms) => {
        let bytes = encodeManifest(m);
        for (const one of ms) {
          try {
            bytes = mutate(bytes, one);
          } catch {
            // A JSON mutation of bytes already broken by another: keep them as they are.
          }
        }
        checkDecodeOf(bytes);
      }),
      { numRuns: FUZZ_RUNS * 2 },
    );
  });

  it("refuse random JSON values and random bytes with a FormatError", () => {
    const doc = fc.oneof(
      fc.jsonValue({ maxDepth: 3 }).map((v) => new TextEncoder().encode(JSON.stringify(v))),
      fc
        .dictionary(
          fc.constantFrom(
            "format",
            "version",
            "size",
            "sha256",
            "chunking",
            "codec",
            "created",
            "lengths",
            "chunks",
            "prefetch",
          ),
          fc.jsonValue({ maxDepth: 2 }),
        )
        .map((v) =>
          new TextEncoder().encode(
            JSON.stringify({ format: "edgeboot-manifest", version: 1, ...v }),
          ),
        ),
      fc.uint8Array({ maxLength: 64 }),
      fc.string({ unit: "binary", maxLength: 64 }).map((s) => new TextEncoder().encode(s)),
    );
    fc.assert(
      fc.property(doc, (bytes) => checkDecodeOf(bytes)),
      { numRuns: FUZZ_RUNS * 2 },
    );
  });

  it("refuse manifests whose lengths break the chunking's rules", () => {
    fc.assert(
      fc.property(
        manifestArb.filter((m) => m.chunks.length > 0),
        fc.nat(),
        fc.integer({ min: 1, max: 2 * MAX_CHUNK_BYTES }),
        (m, which, length) => {
          const index = which % m.lengths.length;
          const lengths = [...m.lengths];
          lengths[index] = length;
          const limit = m.chunking.kind === "fixed" ? m.chunking.size : m.chunking.max;
          const fixedBreak =
            m.chunking.kind === "fixed" && index < lengths.length - 1 && length !== limit;
          const bad = length > limit || fixedBreak;
          const changed: Manifest = {
            ...m,
            lengths,
            size: lengths.reduce((a, b) => a + b, 0),
          };
          const result = onlyFormatError(() => decodeManifest(encodeManifest(changed)));
          expect(result instanceof FormatError).toBe(bad);
        },
      ),
      { numRuns: FUZZ_RUNS },
    );
  });
});

describe("creation times", { timeout: TIMEOUT }, () => {
  // Found by this fuzzing and fixed; kept as a regression test.
  it("are accepted only when they are a real instant, spelled as toISOString spells it", () => {
    const calendarEdge = fc
      .record({
        year: fc.integer({ min: 1970, max: 2100 }),
        month: fc.integer({ min: 1, max: 12 }),
        day: fc.integer({ min: 28, max: 31 }),
        midnight: fc.boolean(),
      })
      .map(({ year, month, day, midnight }) => {
        const pad = (n: number, w = 2) => String(n).padStart(w, "0");
        return `${pad(year, 4)}-${pad(month)}-${pad(day)}T${midnight ? "24:00" : "11:00"}:00.000Z`;
      });
    fc.assert(
      fc.property(manifestArb, calendarEdge, (m, created) => {
        const result = onlyFormatError(() => decodeManifest(encodeManifest({ ...m, created })));
        const canonical = new Date(Date.parse(created)).toISOString() === created;
        expect(!(result instanceof FormatError), created).toBe(canonical);
      }),
      { numRuns: FUZZ_RUNS, examples: [[EXAMPLE_MANIFEST, "2026-02-30T11:00:00.000Z"]] },
    );
  });
});

describe("prefetchFromReads", { timeout: TIMEOUT }, () => {
  const arb = fc
    .tuple(
      fc.oneof(
        fc.array(fc.integer({ min: 1, max: 50 }), { maxLength: 40 }),
        fc.array(fc.integer({ min: 1, max: 8 * MiB }), { maxLength: 12 }),
      ),
      fc.array(fc.tuple(fc.nat(), fc.nat()), { maxLength: 30 }),
    )
    .map(([lengths, raw]) => {
      const size = lengths.reduce((a, b) => a + b, 0);
      // Offsets mostly inside the image, lengths from 1 byte to past its end.
      const reads = raw.map(
        ([o, l]) =>
          [o % (size + 3), 1 + (l % Math.max(1, Math.ceil(size / 2) + 2))] as [number, number],
      );
      return { lengths, reads };
    });

  it("lists the chunks under the reads, in first-read order, each once", () => {
    fc.assert(
      fc.property(arb, ({ lengths, reads }) => {
        const offsets = chunkOffsets({ lengths });
        expect(prefetchFromReads(reads, offsets)).toEqual(referencePrefetch(reads, lengths));
      }),
      { numRuns: FUZZ_RUNS },
    );
  });

  it("handles huge reads that parseBootProfile accepts", () => {
    const huge = fc.tuple(
      fc.array(fc.integer({ min: 1, max: 8 * MiB }), { minLength: 1, maxLength: 12 }),
      fc.array(
        fc.tuple(
          fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
          fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
        ),
        { maxLength: 8 },
      ),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER })), {
        maxLength: 4,
      }),
    );
    fc.assert(
      fc.property(huge, ([lengths, far, near]) => {
        const size = lengths.reduce((a, b) => a + b, 0);
        const reads = [...far, ...near.map(([o, l]) => [o % size, l] as [number, number])];
        const profile = parseBootProfile(
          JSON.stringify({
            format: "edgeboot-boot-profile",
            version: 1,
            images: [{ name: "x", manifest: "0".repeat(64), reads }],
          }),
        );
        const checked = profile.images[0]?.reads ?? [];
        const offsets = chunkOffsets({ lengths });
        expect(prefetchFromReads(checked, offsets)).toEqual(referencePrefetch(checked, lengths));
      }),
      { numRuns: FUZZ_RUNS },
    );
  });

  it("parseBootProfile refuses random documents with a FormatError only", () => {
    const text = fc.oneof(
      fc.json({ maxDepth: 3 }),
      fc.string({ unit: "binary", maxLength: 40 }),
      fc
        .record({
          format: fc.oneof(fc.constant("edgeboot-boot-profile"), fc.jsonValue({ maxDepth: 1 })),
          version: fc.oneof(fc.constant(1), fc.jsonValue({ maxDepth: 1 })),
          images: fc.oneof(
            fc.array(
              fc.record(
                {
                  name: fc.oneof(fc.constantFrom("debian", "a", ""), fc.jsonValue({ maxDepth: 1 })),
                  manifest: fc.oneof(objectId, fc.jsonValue({ maxDepth: 1 })),
                  reads: fc.oneof(
                    fc.array(fc.array(fc.jsonValue({ maxDepth: 1 }), { maxLength: 3 }), {
                      maxLength: 4,
                    }),
                    fc.jsonValue({ maxDepth: 2 }),
                  ),
                },
                { requiredKeys: [] },
              ),
              { maxLength: 3 },
            ),
            fc.jsonValue({ maxDepth: 2 }),
          ),
        })
        .map((v) => JSON.stringify(v)),
    );
    fc.assert(
      fc.property(text, (t) => {
        const result = onlyFormatError(() => parseBootProfile(t));
        if (result instanceof FormatError) return;
        // Accepted: then every read is a pair of safe integers, offset >= 0 and length >= 1.
        for (const image of (result as ReturnType<typeof parseBootProfile>).images) {
          for (const [offset, length] of image.reads) {
            expect(Number.isSafeInteger(offset) && offset >= 0).toBe(true);
            expect(Number.isSafeInteger(length) && length >= 1).toBe(true);
          }
        }
      }),
      { numRuns: FUZZ_RUNS * 2 },
    );
  });
});
