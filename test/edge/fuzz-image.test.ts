/**
 * Property-based test of the range-to-chunk mapping of `GET /v1/manifests/:id/image`: images of
 * random chunk lengths are stored through the real Worker (R2 and the Cache API in workerd), then
 * read with random Range headers, ranges that start, end or sit on chunk boundaries among them.
 * Every answer is compared with the reference: the same bytes cut out of the whole image. Most
 * chunks are gzip frames; a few are zstd frames (the test vectors), decoded by the shared decoder.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { fromBase64 } from "../../src/format/base64.js";
import { fuzzRuns, fuzzTimeout } from "../fixtures/fuzz.js";
import { NO_FCS_B64, SAMPLE_SHA256, sample, WITH_FCS_B64 } from "../fixtures/zstd-vectors.js";
import { bytesOf, call, makeChunk, storeImage, type TestChunk } from "./helpers.js";

/** Per test: a property that hangs or crawls fails on time instead of stalling the run. */
const TIMEOUT = fuzzTimeout(20);

/** What a Range header asks for, and what the answer must be. */
type Ask =
  | { header: string; status: 206; start: number; end: number }
  | { header: string; status: 416 }
  | { header: string; status: 200 };

/** A position in the image: anywhere, or on a chunk boundary, or one byte either side of one. */
function position(size: number, offsets: number[]): fc.Arbitrary<number> {
  return fc.oneof(
    fc.integer({ min: 0, max: size - 1 }),
    fc
      .tuple(fc.constantFrom(...offsets), fc.integer({ min: -1, max: 1 }))
      .map(([o, d]) => Math.min(size - 1, Math.max(0, o + d))),
  );
}

function asks(size: number, offsets: number[]): fc.Arbitrary<Ask> {
  const at = position(size, offsets);
  return fc.oneof(
    {
      weight: 4,
      arbitrary: fc.tuple(at, at).map(([a, b]): Ask => {
        const [start, end] = a <= b ? [a, b] : [b, a];
        return { header: `bytes=${start}-${end}`, status: 206, start, end };
      }),
    },
    {
      weight: 1,
      arbitrary: fc.tuple(at, fc.integer({ min: 0, max: 20_000 })).map(
        ([start, past]): Ask => ({
          header: `bytes=${start}-${size + past}`,
          status: 206,
          start,
          end: size - 1,
        }),
      ),
    },
    {
      weight: 1,
      arbitrary: at.map(
        (start): Ask => ({ header: `bytes=${start}-`, status: 206, start, end: size - 1 }),
      ),
    },
    {
      weight: 1,
      arbitrary: fc.integer({ min: 1, max: size + 100 }).map(
        (n): Ask => ({
          header: `bytes=-${n}`,
          status: 206,
          start: Math.max(0, size - n),
          end: size - 1,
        }),
      ),
    },
    {
      weight: 1,
      arbitrary: fc
        .integer({ min: size, max: size + 5 })
        .map((start): Ask => ({ header: `bytes=${start}-`, status: 416 })),
    },
    {
      weight: 1,
      arbitrary: fc.tuple(at, at).map(
        ([a, b]): Ask => ({
          header: `bytes=${a}-${a},${b}-${b}`,
          status: 200,
        }),
      ),
    },
  );
}

/** Chunks as [length, seed]: gzip chunks of 1025 to 8192 bytes, and seed 0 or -1 for a zstd one. */
const image = fc.array(
  fc.oneof(
    {
      weight: 6,
      arbitrary: fc.tuple(fc.integer({ min: 1025, max: 8192 }), fc.integer({ min: 1, max: 6 })),
    },
    { weight: 1, arbitrary: fc.constantFrom<[number, number]>([5000, 0], [5000, -1]) },
  ),
  { minLength: 1, maxLength: 6 },
);

/** The zstd test vectors: sample(5000) with and without a content size. */
function zstdChunk(seed: number): TestChunk {
  return {
    raw: sample(5000),
    id: SAMPLE_SHA256,
    frame: fromBase64(seed === 0 ? NO_FCS_B64 : WITH_FCS_B64),
  };
}

describe("GET /v1/manifests/:id/image with random ranges", { timeout: TIMEOUT }, () => {
  it("answers every range with exactly the bytes a slice of the whole image has", async () => {
    const made = new Map<string, TestChunk>();
    const chunkOf = async (length: number, seed: number) => {
      const key = `${length}/${seed}`;
      const known = made.get(key);
      if (known) return known;
      const chunk = seed <= 0 ? zstdChunk(seed) : await makeChunk(length, seed);
      made.set(key, chunk);
      return chunk;
    };
    const arb = image.chain((spec) => {
      const lengths = spec.map(([length]) => length);
      const size = lengths.reduce((a, b) => a + b, 0);
      const offsets = lengths.map((_, i) => lengths.slice(0, i).reduce((a, b) => a + b, 0));
      return fc.tuple(
        fc.constant(spec),
        fc.array(asks(size, [...offsets, size]), { minLength: 1, maxLength: 4 }),
      );
    });
    await fc.assert(
      fc.asyncProperty(arb, async ([spec, ranges]) => {
        const chunks = await Promise.all(spec.map(([length, seed]) => chunkOf(length, seed)));
        const { id, manifest } = await storeImage(chunks, {
          chunking: { kind: "cdc", min: 1024, avg: 4096, max: 8192 },
        });
        const whole = new Uint8Array(manifest.size);
        let at = 0;
        for (const chunk of chunks) {
          whole.set(chunk.raw, at);
          at += chunk.raw.byteLength;
        }
        for (const ask of ranges) {
          const response = await call(`/v1/manifests/${id}/image`, {
            headers: { Range: ask.header },
          });
          const label = `${ask.header} of ${manifest.size} bytes in chunks ${manifest.lengths}`;
          expect(response.status, label).toBe(ask.status);
          const body = await bytesOf(response);
          if (ask.status === 206) {
            expect(response.headers.get("Content-Range"), label).toBe(
              `bytes ${ask.start}-${ask.end}/${manifest.size}`,
            );
            expect(response.headers.get("Content-Length"), label).toBe(
              String(ask.end - ask.start + 1),
            );
            const expected = whole.subarray(ask.start, ask.end + 1);
            expect(body.byteLength, label).toBe(expected.byteLength);
            expect(
              body.findIndex((b, i) => b !== expected[i]),
              label,
            ).toBe(-1);
          } else if (ask.status === 416) {
            expect(response.headers.get("Content-Range"), label).toBe(`bytes */${manifest.size}`);
          } else {
            expect(body.byteLength, label).toBe(whole.byteLength);
            expect(
              body.findIndex((b, i) => b !== whole[i]),
              label,
            ).toBe(-1);
          }
        }
      }),
      { numRuns: fuzzRuns(1 / 4) },
    );
  });
});
