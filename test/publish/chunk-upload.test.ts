// The uploader's pipeline: chunks are read and hashed on while the target is asked about earlier
// ones and they are compressed, and the first compression does not wait for a whole batch.
import { describe, expect, it } from "vitest";
import { ChunkUploader, type UploadCounts } from "../../src/publish/chunk-upload.js";
import type { PublishTarget } from "../../src/publish/target.js";
import { imageBytes } from "../cli/edge.js";

const CHUNK = 4096;

function counts(): UploadCounts {
  return { chunks: 0, newChunks: 0, reusedChunks: 0, bytesUploaded: 0 };
}

/** A target that stores nothing: every chunk is missing; `ask` sees each existence query. */
function target(ask: (ids: readonly string[]) => Promise<void>): PublishTarget {
  return {
    where: "test",
    missing: async (ids) => {
      await ask(ids);
      return ids.slice();
    },
    putChunk: async () => {},
    putManifest: async () => {},
    getRef: async () => undefined,
    putRef: async () => {},
    close: async () => {},
  };
}

/** `count` distinct chunks of CHUNK bytes, one a piece; `pulled` counts the pieces taken. */
function pieces(count: number, pulled: { count: number }): AsyncIterable<Uint8Array> {
  return (async function* () {
    for (let i = 0; i < count; i++) {
      pulled.count++;
      yield imageBytes(CHUNK, i + 1);
    }
  })();
}

function uploader(publishTarget: PublishTarget): ChunkUploader {
  return new ChunkUploader({
    target: publishTarget,
    chunking: { kind: "fixed", size: CHUNK },
    codec: "zstd",
    level: 3,
    jobs: 2,
    counts: counts(),
  });
}

describe("ChunkUploader", () => {
  it("asks about the first chunk alone, then in batches doubling up to 64", async () => {
    const sizes: number[] = [];
    const chunks = uploader(target(async (ids) => void sizes.push(ids.length)));
    const pulled = { count: 0 };
    const { chunks: ids } = await chunks.upload(pieces(300, pulled));
    await chunks.finish();
    expect(ids).toHaveLength(300);
    expect(sizes).toEqual([1, 2, 4, 8, 16, 32, 64, 64, 64, 45]);
  });

  it("reads and hashes on while the target has not answered about the batch before", async () => {
    const pulled = { count: 0 };
    let asked = 0;
    const readOnWhileWaiting: boolean[] = [];
    const chunks = uploader(
      target(async (ids) => {
        asked += ids.length;
        // Answer once the source has given chunks beyond those asked about so far (or give up
        // after a second, so that a pipeline that waits for the answer first fails, not hangs).
        const waitFrom = Date.now();
        while (pulled.count <= asked && pulled.count < 300 && Date.now() - waitFrom < 1000) {
          await new Promise((resolve) => setTimeout(resolve, 1));
        }
        readOnWhileWaiting.push(pulled.count > asked || pulled.count === 300);
      }),
    );
    await chunks.upload(pieces(300, pulled));
    await chunks.finish();
    expect(readOnWhileWaiting.length).toBeGreaterThan(3);
    expect(readOnWhileWaiting.every(Boolean)).toBe(true);
  });

  it("throws the target's failure and leaves no unhandled rejection behind", async () => {
    let queries = 0;
    const chunks = uploader(
      target(async () => {
        queries++;
        if (queries === 3) throw new Error("the target is down");
      }),
    );
    await expect(chunks.upload(pieces(300, { count: 0 }))).rejects.toThrow("the target is down");
  });
});
