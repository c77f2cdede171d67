/**
 * Property-based tests of the frame decoders (src/format/codec.ts) and the zstd frame walker
 * (src/format/zstd-frame.ts) on random bytes, on valid frames cut short, flipped and followed by
 * garbage, and on frames put together here whose every byte of output is known (gzip headers with
 * every optional field; zstd frames of raw and RLE blocks), against a reference of what they must
 * give. Whatever the input: only a FormatError is ever thrown, the output never passes
 * `maxOutputBytes`, the streaming decoder agrees with the one-shot decoder, and a zstd frame's
 * output stays within the bound inspectZstdFrame states for it.
 */
import fc from "fast-check";
import { deflateSync, gzipSync } from "fflate";
import { describe, expect, it } from "vitest";
import { fromBase64 } from "../../src/format/base64.js";
import { createFrameDecoder, decodeFrame } from "../../src/format/codec.js";
import { FormatError } from "../../src/format/errors.js";
import { inspectZstdFrame, type ZstdFrameShape } from "../../src/format/zstd-frame.js";
import { concatBytes } from "../../src/lib/bytes.js";
import { FUZZ_RUNS, fuzzRuns, fuzzTimeout, sameBytes } from "../fixtures/fuzz.js";
import {
  BIG_WINDOW_B64,
  BOMB_FCS_B64,
  BOMB_NO_FCS_B64,
  NO_FCS_B64,
  sample,
  WITH_FCS_B64,
} from "../fixtures/zstd-vectors.js";

/** Per test: a decoder that loops or crawls fails here rather than hanging the run. */
const TIMEOUT = fuzzTimeout(20);
const PLAIN = sample(5000);

// ---- helpers ----

/** `parts` one after another (src/lib's concatBytes, spread). */
const cat = (...parts: Uint8Array[]): Uint8Array => concatBytes(parts);

type Outcome = { ok: true; bytes: Uint8Array } | { ok: false; error: FormatError };

/** Anything but a FormatError escapes as a failure of the property. */
function asOutcome(error: unknown): Outcome {
  if (error instanceof FormatError) return { ok: false, error };
  throw new Error(`expected a FormatError, got ${String(error)}`, { cause: error });
}

async function oneShot(frame: Uint8Array, limit: number): Promise<Outcome> {
  let bytes: Uint8Array;
  try {
    bytes = await decodeFrame(frame, { maxOutputBytes: limit });
  } catch (error) {
    return asOutcome(error);
  }
  expect(bytes.byteLength).toBeLessThanOrEqual(limit);
  return { ok: true, bytes };
}

/** The streaming decoder fed `frame` cut at `cuts`; checks the limit after every output piece. */
async function streamed(frame: Uint8Array, limit: number, cuts: number[]): Promise<Outcome> {
  const points = [...new Set(cuts.map((c) => c % (frame.byteLength + 1)))].sort((a, b) => a - b);
  const pieces: Uint8Array[] = [];
  let from = 0;
  for (const point of [...points, frame.byteLength]) {
    pieces.push(frame.slice(from, point));
    from = point;
  }
  const source = new ReadableStream<Uint8Array>({
    pull(controller) {
      const piece = pieces.shift();
      if (piece === undefined) controller.close();
      else controller.enqueue(piece);
    },
  });
  const reader = source.pipeThrough(createFrameDecoder({ maxOutputBytes: limit })).getReader();
  const parts: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    let next: ReadableStreamReadResult<Uint8Array>;
    try {
      next = await reader.read();
    } catch (error) {
      return asOutcome(error);
    }
    if (next.done) return { ok: true, bytes: cat(...parts) };
    total += next.value.byteLength;
    expect(total, "output so far").toBeLessThanOrEqual(limit);
    parts.push(next.value);
  }
}

function inspect(frame: Uint8Array): ZstdFrameShape | FormatError {
  try {
    return inspectZstdFrame(frame);
  } catch (error) {
    if (error instanceof FormatError) return error;
    throw new Error(`inspectZstdFrame threw ${String(error)}`, { cause: error });
  }
}

/**
 * Every check that holds for any input: one-shot and streaming decoding agree, only FormatErrors,
 * the limit holds, and a decoded zstd frame is one inspectZstdFrame accepts and bounds.
 */
async function checkAnyInput(frame: Uint8Array, limit: number, cuts: number[]): Promise<Outcome> {
  const whole = await oneShot(frame, limit);
  const pieces = await streamed(frame, limit, cuts);
  expect(pieces.ok, "streaming and one-shot decoding agree").toBe(whole.ok);
  if (whole.ok && pieces.ok) expect(sameBytes(pieces.bytes, whole.bytes)).toBe(true);
  const shape = frame[0] === 0x28 ? inspect(frame) : undefined;
  if (whole.ok && shape !== undefined) {
    expect(shape, "a frame decodeFrame accepts is one inspectZstdFrame accepts").not.toBeInstanceOf(
      FormatError,
    );
    const { contentSize, outputBound } = shape as ZstdFrameShape;
    expect(whole.bytes.byteLength).toBeLessThanOrEqual(outputBound);
    if (contentSize !== undefined) expect(whole.bytes.byteLength).toBe(contentSize);
  }
  return whole;
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = (CRC_TABLE[(c ^ b) & 255] as number) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function le(value: number, bytes: number): Uint8Array {
  const out = new Uint8Array(bytes);
  let v = value;
  for (let i = 0; i < bytes; i++) {
    out[i] = v % 256;
    v = Math.floor(v / 256);
  }
  return out;
}

// ---- generators ----

/** Data that compresses well, badly, or not at all. */
const plain = fc.oneof(
  fc.uint8Array({ maxLength: 2000 }),
  fc.integer({ min: 0, max: 5000 }).map((n) => sample(n)),
  fc
    .tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 20000 }))
    .map(([b, n]) => new Uint8Array(n).fill(b)),
);

const gzipFrameArb = fc.tuple(plain, fc.integer({ min: 0, max: 9 })).map(([data, level]) => ({
  data,
  frame: gzipSync(data, { level: level as 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9, mtime: 0 }),
}));

const zstdVectors = [
  { name: "with content size", frame: fromBase64(WITH_FCS_B64), data: PLAIN },
  { name: "without content size", frame: fromBase64(NO_FCS_B64), data: PLAIN },
  { name: "128 MiB window", frame: fromBase64(BIG_WINDOW_B64), data: PLAIN },
];
const zstdVector = fc.constantFrom(...zstdVectors);

/** A gzip frame with a header put together here: any optional field, maybe reserved flags. */
const gzipHeaderArb = fc
  .record({
    data: plain,
    text: fc.boolean(),
    extra: fc.option(
      fc.oneof(
        fc.uint8Array({ maxLength: 40 }),
        fc.integer({ min: 4000, max: 4100 }).map((n) => new Uint8Array(n)),
      ),
      { nil: undefined },
    ),
    name: fc.option(
      fc.uint8Array({ maxLength: 30 }).map((b) => b.map((x) => x || 1)),
      {
        nil: undefined,
      },
    ),
    comment: fc.option(
      fc.uint8Array({ maxLength: 30 }).map((b) => b.map((x) => x || 1)),
      {
        nil: undefined,
      },
    ),
    headerCrc: fc.boolean(),
    reserved: fc.oneof(
      { weight: 4, arbitrary: fc.constant(0) },
      { weight: 1, arbitrary: fc.integer({ min: 1, max: 7 }).map((r) => r << 5) },
    ),
    method: fc.oneof(
      { weight: 6, arbitrary: fc.constant(8) },
      { weight: 1, arbitrary: fc.nat(255) },
    ),
  })
  .map((g) => {
    const flags =
      (g.text ? 1 : 0) |
      (g.headerCrc ? 2 : 0) |
      (g.extra ? 4 : 0) |
      (g.name ? 8 : 0) |
      (g.comment ? 16 : 0) |
      g.reserved;
    let head = cat(Uint8Array.of(0x1f, 0x8b, g.method, flags, 0, 0, 0, 0, 0, 3));
    if (g.extra) head = cat(head, le(g.extra.byteLength, 2), g.extra);
    if (g.name) head = cat(head, g.name, Uint8Array.of(0));
    if (g.comment) head = cat(head, g.comment, Uint8Array.of(0));
    if (g.headerCrc) head = cat(head, le(crc32(head) & 0xffff, 2));
    const frame = cat(
      head,
      deflateSync(g.data),
      le(crc32(g.data), 4),
      le(g.data.byteLength % 2 ** 32, 4),
    );
    const valid = g.method === 8 && g.reserved === 0 && head.byteLength <= 4096;
    return { frame, data: g.data, valid };
  });

interface Block {
  type: 0 | 1;
  size: number;
  content: Uint8Array;
  output: Uint8Array;
}

/** Raw and RLE blocks, whose output is known without a zstd decoder. */
const block: fc.Arbitrary<Block> = fc.oneof(
  fc.uint8Array({ maxLength: 3000 }).map((bytes) => ({
    type: 0 as const,
    size: bytes.byteLength,
    content: bytes,
    output: bytes,
  })),
  fc.tuple(fc.nat(255), fc.integer({ min: 0, max: 6000 })).map(([byte, size]) => ({
    type: 1 as const,
    size,
    content: Uint8Array.of(byte),
    output: new Uint8Array(size).fill(byte),
  })),
);

interface SyntheticZstd {
  frame: Uint8Array;
  output: Uint8Array;
  contentSize: number | undefined;
  window: number;
  dictionaryId: number;
  blockSizes: number[];
}

/** A zstd frame of raw and RLE blocks with any header: window, content size (true or not), dictionary id, checksum. */
const syntheticZstd: fc.Arbitrary<SyntheticZstd> = fc
  .record({
    blocks: fc.array(block, { minLength: 1, maxLength: 5 }),
    single: fc.boolean(),
    sizeFlag: fc.integer({ min: 0, max: 3 }),
    honest: fc.oneof(
      { weight: 3, arbitrary: fc.constant(true) },
      { weight: 1, arbitrary: fc.constant(false) },
    ),
    lie: fc.oneof(fc.nat(20000), fc.constantFrom(2 ** 32 - 1, 2 ** 53 - 1, 2 ** 53 + 2, 2 ** 63)),
    descriptor: fc.integer({ min: 0, max: 12 * 8 }),
    dictFlag: fc.oneof(
      { weight: 5, arbitrary: fc.constant(0) },
      { weight: 1, arbitrary: fc.integer({ min: 1, max: 3 }) },
    ),
    dictId: fc.oneof(fc.constant(0), fc.nat(255)),
    checksum: fc.boolean(),
    checksumBytes: fc.uint8Array({ minLength: 4, maxLength: 4 }),
  })
  .map((z) => {
    const output = cat(...z.blocks.map((b) => b.output));
    const sizeBytes = [z.single ? 1 : 0, 2, 4, 8][z.sizeFlag] as number;
    const wanted = z.honest ? output.byteLength : z.lie;
    // What the field can hold: 1 byte 0-255, 2 bytes 256-65791, 4 bytes 32 bits, 8 bytes 64 bits.
    let contentSize: number | undefined;
    let field: Uint8Array = new Uint8Array(0);
    if (sizeBytes === 1) contentSize = wanted % 256;
    if (sizeBytes === 2) contentSize = 256 + (wanted % 65536);
    if (sizeBytes === 4) contentSize = wanted % 2 ** 32;
    if (sizeBytes === 8) contentSize = wanted;
    if (contentSize !== undefined) {
      if (sizeBytes === 8) {
        field = new Uint8Array(8);
        new DataView(field.buffer).setBigUint64(0, BigInt(contentSize), true);
      } else {
        field = le(sizeBytes === 2 ? contentSize - 256 : contentSize, sizeBytes);
      }
    }
    const dictBytes = [0, 1, 2, 4][z.dictFlag] as number;
    const fhd = (z.sizeFlag << 6) | (z.single ? 0x20 : 0) | (z.checksum ? 4 : 0) | z.dictFlag;
    const base = 2 ** (10 + (z.descriptor >> 3));
    const window = z.single ? (contentSize ?? 0) : base + (base / 8) * (z.descriptor & 7);
    const blocks = z.blocks.map((b, i) => {
      const v = (b.size << 3) | (b.type << 1) | (i === z.blocks.length - 1 ? 1 : 0);
      return cat(Uint8Array.of(v & 255, (v >> 8) & 255, (v >> 16) & 255), b.content);
    });
    const frame = cat(
      Uint8Array.of(0x28, 0xb5, 0x2f, 0xfd, fhd),
      z.single ? new Uint8Array(0) : Uint8Array.of(z.descriptor),
      le(z.dictId, dictBytes),
      field,
      ...blocks,
      z.checksum ? z.checksumBytes : new Uint8Array(0),
    );
    return {
      frame,
      output,
      contentSize,
      window,
      dictionaryId: dictBytes === 0 ? 0 : z.dictId,
      blockSizes: z.blocks.map((b) => b.size),
    };
  });

const limit = fc.oneof(
  fc.constant(8 * 1024 * 1024),
  fc.integer({ min: 0, max: 30_000 }),
  fc.constantFrom(0, 1, 4999, 5000, 5001),
);
const cuts = fc.array(fc.nat(), { maxLength: 6 });

/** Lengths to cut a frame at: every one near its start and end, and some in between. */
function cutLengths(length: number, some: number[]): number[] {
  const all = Array.from({ length }, (_, i) => i);
  if (length <= 96) return all;
  return [...all.slice(0, 48), ...all.slice(-48), ...some.map((n) => n % length)];
}

type Damage =
  | { kind: "truncate"; at: number }
  | { kind: "flip"; at: number; xor: number }
  | { kind: "append"; bytes: Uint8Array }
  | { kind: "prepend"; bytes: Uint8Array };

const damage: fc.Arbitrary<Damage> = fc.oneof(
  fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant("flip" as const),
    at: fc.nat(),
    xor: fc.integer({ min: 1, max: 255 }),
  }),
  fc.record({
    kind: fc.constant("append" as const),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }),
  }),
  fc.record({
    kind: fc.constant("prepend" as const),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 4 }),
  }),
);

function applyDamage(frame: Uint8Array, d: Damage): Uint8Array {
  switch (d.kind) {
    case "truncate":
      return frame.slice(0, d.at % frame.byteLength);
    case "flip": {
      const out = frame.slice();
      const at = d.at % out.byteLength;
      out[at] = (out[at] as number) ^ d.xor;
      return out;
    }
    case "append":
      return cat(frame, d.bytes);
    case "prepend":
      return cat(d.bytes, frame);
  }
}

// ---- properties ----

describe("decodeFrame and createFrameDecoder on random bytes", { timeout: TIMEOUT }, () => {
  it("throw nothing but a FormatError, agree with each other and keep to the limit", async () => {
    const bytes = fc.oneof(
      fc.uint8Array({ maxLength: 64 }),
      fc.uint8Array({ maxLength: 300 }).map((b) => cat(Uint8Array.of(0x1f, 0x8b, 8), b)),
      fc
        .uint8Array({ maxLength: 300 })
        .map((b) => cat(Uint8Array.of(0x1f, 0x8b, 8, 0), new Uint8Array(6), b)),
      fc.uint8Array({ maxLength: 300 }).map((b) => cat(Uint8Array.of(0x28, 0xb5, 0x2f, 0xfd), b)),
      fc
        .tuple(fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 300 }))
        .map(([fhd, b]) => cat(Uint8Array.of(0x28, 0xb5, 0x2f, 0xfd, fhd & ~8), b)),
    );
    await fc.assert(
      fc.asyncProperty(bytes, limit, cuts, async (b, l, c) => {
        await checkAnyInput(b, l, c);
        inspect(b);
      }),
      { numRuns: FUZZ_RUNS * 2 },
    );
  });
});

describe("gzip frames", { timeout: TIMEOUT }, () => {
  it("decode to their data within the limit, and to a FormatError over it", async () => {
    await fc.assert(
      fc.asyncProperty(gzipFrameArb, limit, cuts, async ({ data, frame }, l, c) => {
        const outcome = await checkAnyInput(frame, l, c);
        expect(outcome.ok).toBe(data.byteLength <= l);
        if (outcome.ok) expect(sameBytes(outcome.bytes, data)).toBe(true);
      }),
      { numRuns: FUZZ_RUNS },
    );
  });

  it("with any header fields decode exactly when the header is valid", async () => {
    await fc.assert(
      fc.asyncProperty(gzipHeaderArb, cuts, async ({ frame, data, valid }, c) => {
        const outcome = await checkAnyInput(frame, 8 * 1024 * 1024, c);
        expect(outcome.ok).toBe(valid);
        if (outcome.ok) expect(sameBytes(outcome.bytes, data)).toBe(true);
      }),
      { numRuns: FUZZ_RUNS },
    );
  });

  it("damaged: truncated, flipped, with bytes before or after, never decode to other bytes", async () => {
    await fc.assert(
      fc.asyncProperty(
        gzipFrameArb,
        fc.array(damage, { minLength: 1, maxLength: 2 }),
        cuts,
        async ({ data, frame }, ds, c) => {
          const damaged = ds.reduce(applyDamage, frame);
          const outcome = await checkAnyInput(damaged, 8 * 1024 * 1024, c);
          // CRC-32 and length catch a change in the data; the header's mtime, XFL and OS bytes
          // (and FTEXT) may change without changing what the frame holds.
          if (outcome.ok) expect(sameBytes(outcome.bytes, data)).toBe(true);
          if (ds.every((d) => d.kind !== "flip") && !sameBytes(damaged, frame)) {
            expect(outcome.ok).toBe(false);
          }
        },
      ),
      { numRuns: FUZZ_RUNS },
    );
  });

  it("cut at every length is refused", async () => {
    await fc.assert(
      fc.asyncProperty(
        gzipFrameArb,
        fc.array(fc.nat(), { maxLength: 40 }),
        async ({ frame }, some) => {
          for (const length of cutLengths(frame.byteLength, some)) {
            const outcome = await oneShot(frame.subarray(0, length), 8 * 1024 * 1024);
            expect(outcome.ok, `cut at ${length} of ${frame.byteLength}`).toBe(false);
          }
        },
      ),
      { numRuns: fuzzRuns(1 / 8) },
    );
  });
});

describe("zstd frames", { timeout: TIMEOUT }, () => {
  it("of raw and RLE blocks decode as a reference says they must", async () => {
    await fc.assert(
      fc.asyncProperty(syntheticZstd, limit, cuts, async (z, l, c) => {
        const outcome = await checkAnyInput(z.frame, l, c);
        const maxBlock = Math.min(z.window, 128 * 1024);
        const valid =
          z.dictionaryId === 0 &&
          z.blockSizes.every((size) => size <= maxBlock) &&
          z.output.byteLength <= l &&
          (z.contentSize === undefined || z.contentSize === z.output.byteLength);
        expect(outcome.ok, outcome.ok ? "decoded" : outcome.error.message).toBe(valid);
        if (outcome.ok) expect(sameBytes(outcome.bytes, z.output)).toBe(true);

        const shape = inspect(z.frame);
        const bounded = z.contentSize === undefined || z.contentSize <= z.output.byteLength;
        const safe = z.contentSize === undefined || z.contentSize <= Number.MAX_SAFE_INTEGER;
        expect(!(shape instanceof FormatError)).toBe(bounded && safe);
        if (!(shape instanceof FormatError)) {
          expect(shape.outputBound).toBe(z.output.byteLength);
          expect(shape.contentSize).toBe(z.contentSize);
        }
      }),
      { numRuns: FUZZ_RUNS * 2 },
    );
  });

  it("from zstd itself decode within the limit, and to a FormatError over it", async () => {
    await fc.assert(
      fc.asyncProperty(zstdVector, limit, cuts, async ({ frame, data }, l, c) => {
        const outcome = await checkAnyInput(frame, l, c);
        expect(outcome.ok).toBe(data.byteLength <= l);
        if (outcome.ok) expect(sameBytes(outcome.bytes, data)).toBe(true);
      }),
      { numRuns: fuzzRuns(1 / 4) },
    );
  });

  it("damaged: never throw anything but a FormatError, never pass the limit or the stated bound", async () => {
    const frames = fc.oneof(
      zstdVector.map((v) => v.frame),
      syntheticZstd.map((z) => z.frame),
    );
    await fc.assert(
      fc.asyncProperty(
        frames,
        fc.array(damage, { minLength: 1, maxLength: 3 }),
        limit,
        cuts,
        async (frame, ds, l, c) => {
          const damaged = ds.reduce(applyDamage, frame);
          await checkAnyInput(damaged, l, c);
        },
      ),
      { numRuns: FUZZ_RUNS * 2 },
    );
  });

  it("bombs stop at the limit", async () => {
    const bombs = [fromBase64(BOMB_FCS_B64), fromBase64(BOMB_NO_FCS_B64)];
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...bombs),
        fc.integer({ min: 0, max: 200_000 }),
        cuts,
        async (frame, l, c) => {
          const outcome = await checkAnyInput(frame, l, c);
          expect(outcome.ok).toBe(false);
        },
      ),
      { numRuns: fuzzRuns(1 / 10) },
    );
  });

  it("cut at every length is refused by both decodeFrame and inspectZstdFrame", async () => {
    const frames = fc.oneof(
      zstdVector.map((v) => v.frame),
      syntheticZstd.map((z) => z.frame),
    );
    await fc.assert(
      fc.asyncProperty(frames, fc.array(fc.nat(), { maxLength: 40 }), async (frame, some) => {
        for (const length of cutLengths(frame.byteLength, some)) {
          const cut = frame.subarray(0, length);
          const outcome = await oneShot(cut, 8 * 1024 * 1024);
          expect(outcome.ok, `cut at ${length} of ${frame.byteLength}`).toBe(false);
          expect(inspect(cut)).toBeInstanceOf(FormatError);
        }
      }),
      { numRuns: fuzzRuns(1 / 20) },
    );
  });
});
