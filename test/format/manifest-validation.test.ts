/**
 * Validation of hostile or malformed manifests, the document and its header fields: unknown
 * fields, format tag, version, size, sha256, chunking, codec, created; size limits, bytes that are
 * not JSON or not UTF-8, JSON that is not an object. The chunk list is in
 * manifest-validation-chunks.test.ts.
 */
import { describe, expect, it } from "vitest";
import { FormatSyntaxError } from "../../src/format/errors.js";
import { MAX_CHUNK_BYTES, MAX_MANIFEST_BYTES } from "../../src/format/limits.js";
import { type Chunking, decodeManifest, encodeManifest } from "../../src/format/manifest.js";
import {
  bytesOf,
  CREATED,
  cdcManifest,
  decodeError,
  docOf,
  expectInvalid,
  fixedManifest,
} from "./manifest-fixtures.js";

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
