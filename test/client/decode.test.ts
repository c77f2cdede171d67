import { createHash } from "node:crypto";
import { gzipSync } from "node:zlib";
import { Encoder } from "@toondepauw/node-zstd";
import { describe, expect, it } from "vitest";
import { decodeChunk } from "../../src/client/decode.js";
import { fromBase64 } from "../../src/format/base64.js";
import { FormatError } from "../../src/format/errors.js";
import {
  BOMB_FCS_B64,
  BOMB_NO_FCS_B64,
  NO_FCS_B64,
  sample,
  WITH_FCS_B64,
} from "../fixtures/zstd-vectors.js";

const sha = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");
const chunk = Buffer.from(sample(200_000));

describe("decodeChunk", () => {
  it("decodes zstd and gzip frames of the right chunk", async () => {
    const zstd = new Encoder(3).encodeSync(chunk);
    expect(sha(await decodeChunk(zstd, sha(chunk), chunk.byteLength))).toBe(sha(chunk));
    const gzip = gzipSync(chunk);
    expect(sha(await decodeChunk(gzip, sha(chunk), chunk.byteLength))).toBe(sha(chunk));
  });

  it("decodes a zstd frame without a content size (as the publisher writes them)", async () => {
    const frame = fromBase64(NO_FCS_B64);
    const bytes = sample(5000);
    expect(sha(await decodeChunk(frame, sha(bytes), 5000))).toBe(sha(bytes));
  });

  it("refuses a zstd frame that declares another length", async () => {
    const frame = fromBase64(WITH_FCS_B64);
    await expect(decodeChunk(frame, sha(sample(5000)), 4999)).rejects.toThrow(
      /declares 5000 bytes/,
    );
  });

  it("refuses bytes of another chunk, a wrong length and garbage", async () => {
    const other = new Encoder(3).encodeSync(Buffer.from(sample(1000)));
    await expect(decodeChunk(other, sha(chunk), 1000)).rejects.toThrow(/wrong bytes/);
    await expect(decodeChunk(other, sha(chunk), chunk.byteLength)).rejects.toThrow(FormatError);
    await expect(decodeChunk(new Uint8Array([1, 2, 3, 4]), sha(chunk), 4)).rejects.toThrow(
      /neither gzip nor zstd/,
    );
  });

  it("stops zstd and gzip bombs at the chunk's length", async () => {
    const started = performance.now();
    for (const b64 of [BOMB_FCS_B64, BOMB_NO_FCS_B64]) {
      await expect(decodeChunk(fromBase64(b64), "0".repeat(64), 65536)).rejects.toThrow(
        FormatError,
      );
    }
    const gzipBomb = gzipSync(Buffer.alloc(64 * 1024 * 1024));
    await expect(decodeChunk(gzipBomb, "0".repeat(64), 65536)).rejects.toThrow(FormatError);
    expect(performance.now() - started).toBeLessThan(5000);
  });
});
