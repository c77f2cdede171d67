/**
 * Property-based tests of the NBD wire format: the decoders and encoders of
 * src/client/nbd/protocol.ts against references written here. The real server fed random bytes is
 * in fuzz-protocol-handshake.test.ts and fuzz-protocol-commands.test.ts.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  decodeInfoRequest,
  decodeOptionHeader,
  decodeRequestHeader,
  decodeString,
  encodeErrorChunk,
  encodeOptionReply,
  encodeRequestHeader,
  encodeString,
  MAX_STRING_BYTES,
} from "../../../src/client/nbd/protocol.js";
import { MAGIC, RawClient } from "../../../testing/nbd-client.mjs";
import { fuzzRuns } from "../../fixtures/fuzz.js";
import { nameBytes, TIMEOUT, u16, u32, u64 } from "./fuzz-arbitraries.js";

// ---- references ----

/** Valid UTF-8 exactly when decoding and encoding again gives the same bytes. */
function isUtf8(bytes: Uint8Array): boolean {
  return Buffer.from(Buffer.from(bytes).toString("utf8"), "utf8").equals(Buffer.from(bytes));
}

function referenceString(bytes: Uint8Array): string | undefined {
  if (bytes.byteLength > 4096 || bytes.includes(0) || !isUtf8(bytes)) return undefined;
  return Buffer.from(bytes).toString("utf8");
}

function referenceInfoRequest(data: Uint8Array): { name: string; infos: number[] } | undefined {
  const b = Buffer.from(data);
  if (b.byteLength < 6) return undefined;
  const nameLength = b.readUInt32BE(0);
  if (4 + nameLength + 2 > b.byteLength) return undefined;
  const count = b.readUInt16BE(4 + nameLength);
  if (b.byteLength !== 4 + nameLength + 2 + 2 * count) return undefined;
  const name = referenceString(b.subarray(4, 4 + nameLength));
  if (name === undefined) return undefined;
  const infos = Array.from({ length: count }, (_, i) => b.readUInt16BE(6 + nameLength + 2 * i));
  return { name, infos };
}

// ---- pure properties ----

describe("NBD wire format", { timeout: TIMEOUT }, () => {
  it("decodes any 28 bytes as a request header, and round-trips every field", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 28, maxLength: 40 }), (bytes) => {
        const header = decodeRequestHeader(bytes);
        const b = Buffer.from(bytes);
        expect(header).toEqual({
          magic: b.readUInt32BE(0),
          flags: b.readUInt16BE(4),
          type: b.readUInt16BE(6),
          cookie: b.readBigUInt64BE(8),
          offset: b.readBigUInt64BE(16),
          length: b.readUInt32BE(24),
        });
      }),
      { numRuns: fuzzRuns() },
    );
    fc.assert(
      fc.property(
        fc.record({ flags: u16, type: u16, cookie: u64, offset: u64, length: u32 }),
        (request) => {
          const bytes = encodeRequestHeader(request);
          expect(bytes.byteLength).toBe(28);
          expect(decodeRequestHeader(bytes)).toEqual({ magic: MAGIC.request, ...request });
        },
      ),
      { numRuns: fuzzRuns() },
    );
  });

  it("decodes any 16 bytes as an option header", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 24 }), (bytes) => {
        const b = Buffer.from(bytes);
        expect(decodeOptionHeader(bytes)).toEqual({
          magic: b.readBigUInt64BE(0),
          option: b.readUInt32BE(8),
          length: b.readUInt32BE(12),
        });
      }),
      { numRuns: fuzzRuns() },
    );
  });

  it("decodes NBD_OPT_GO / INFO data exactly as a reference does, never throwing", () => {
    const data = fc.oneof(
      fc.uint8Array({ maxLength: 40 }),
      fc
        .tuple(nameBytes, fc.array(u16, { maxLength: 6 }))
        .map(([n, i]) => RawClient.infoData(n, i)),
      fc
        .tuple(nameBytes, fc.array(u16, { maxLength: 6 }), fc.integer({ min: -3, max: 3 }))
        .map(([n, i, d]) => {
          const whole = RawClient.infoData(n, i);
          return d < 0
            ? whole.subarray(0, Math.max(0, whole.byteLength + d))
            : Buffer.concat([whole, Buffer.alloc(d)]);
        }),
      fc
        .tuple(u32, fc.uint8Array({ maxLength: 30 }))
        .map(([length, rest]) =>
          Buffer.concat([Buffer.from(Uint32Array.of(length).buffer).reverse(), rest]),
        ),
    );
    fc.assert(
      fc.property(data, (d) => {
        const got = decodeInfoRequest(d);
        const want = referenceInfoRequest(d);
        if (want === undefined) {
          expect(got.ok).toBe(false);
          if (!got.ok) expect(got.reason.length).toBeGreaterThan(0);
        } else {
          expect(got).toEqual({ ok: true, ...want });
        }
      }),
      { numRuns: fuzzRuns(2) },
    );
  });

  it("checks strings as a reference does, and cuts long ones at a character within the limit", () => {
    fc.assert(
      fc.property(nameBytes, (bytes) => {
        expect(decodeString(bytes)).toBe(referenceString(bytes));
      }),
      { numRuns: fuzzRuns() },
    );
    const text = fc.oneof(
      fc.string({ unit: "binary", maxLength: 50 }),
      fc.string({ unit: "grapheme", maxLength: 30 }),
      fc
        .tuple(fc.string({ unit: "binary", maxLength: 4 }), fc.integer({ min: 1000, max: 1400 }))
        .map(([s, n]) => s.repeat(n)),
    );
    fc.assert(
      fc.property(
        text,
        fc.option(fc.integer({ min: 0, max: 5000 }), { nil: undefined }),
        (t, max) => {
          const full = Buffer.from(t, "utf8");
          const limit = max ?? MAX_STRING_BYTES;
          const cut = Buffer.from(encodeString(t, max));
          expect(cut.byteLength).toBeLessThanOrEqual(limit);
          expect(full.subarray(0, cut.byteLength).equals(cut)).toBe(true);
          expect(isUtf8(cut)).toBe(true);
          if (full.byteLength <= limit) expect(cut.byteLength).toBe(full.byteLength);
          // Cut at a character: at most 3 bytes short of the limit.
          else expect(cut.byteLength).toBeGreaterThan(limit - 4);
        },
      ),
      { numRuns: fuzzRuns() },
    );
  });

  it("lays out option replies and error chunks as the protocol says", () => {
    fc.assert(
      fc.property(u32, u32, fc.uint8Array({ maxLength: 40 }), (option, type, data) => {
        const reply = Buffer.from(encodeOptionReply(option, type, data));
        expect(reply.readBigUInt64BE(0)).toBe(MAGIC.optionReply);
        expect([reply.readUInt32BE(8), reply.readUInt32BE(12), reply.readUInt32BE(16)]).toEqual([
          option,
          type,
          data.byteLength,
        ]);
        expect(reply.subarray(20).equals(Buffer.from(data))).toBe(true);
      }),
      { numRuns: fuzzRuns() },
    );
    fc.assert(
      fc.property(
        u64,
        u32,
        fc.string({ unit: "binary", maxLength: 3000 }),
        (cookie, error, message) => {
          const chunk = Buffer.from(encodeErrorChunk(cookie, error, message));
          expect(chunk.readUInt32BE(0)).toBe(MAGIC.structuredReply);
          expect(chunk.readBigUInt64BE(8)).toBe(cookie);
          expect(chunk.readUInt32BE(16)).toBe(chunk.byteLength - 20);
          expect(chunk.readUInt32BE(20)).toBe(error);
          const length = chunk.readUInt16BE(24);
          expect(length).toBe(chunk.byteLength - 26);
          expect(length).toBeLessThanOrEqual(MAX_STRING_BYTES);
        },
      ),
      { numRuns: fuzzRuns() },
    );
  });
});
