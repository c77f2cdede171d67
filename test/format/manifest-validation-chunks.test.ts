/**
 * Validation of hostile or malformed manifests, the chunk list: lengths that do not add up or do
 * not match the chunks, malformed length runs, chunks too long or short, bad chunk ids, prefetch
 * entries that are not chunk indexes, and the MAX_MANIFEST_CHUNKS limit.
 */
import { describe, expect, it } from "vitest";
import { MAX_MANIFEST_BYTES, MAX_MANIFEST_CHUNKS } from "../../src/format/limits.js";
import { encodeManifest, validateManifest } from "../../src/format/manifest.js";
import { cdcManifest, decodeError, docOf, expectInvalid, KiB } from "./manifest-fixtures.js";

describe("validation", () => {
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
});

/** Escapes regular expression metacharacters. */
function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
